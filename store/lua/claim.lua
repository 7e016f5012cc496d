-- claim starts up to ARGV[4] tasks ASSIGNED to node ARGV[3], in placement
-- order, each as a new attempt with a lease of its timeout plus ARGV[5] (µs).
-- Returns {its events}: the started tasks, packed (see EVENTS_REPLY).
--
-- The hot path of a worker: start (lib.lua) without load and move.
local node, limit, grace = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
if limit <= 0 then return { EVENTS_REPLY } end
local akey = assigned_key(node)
for _, id in ipairs(redis.call('ZRANGE', akey, 0, limit - 1)) do
  local key = tkey(id)
  local v = redis.call('HMGET', key, 'm', 'i')
  local m = v[1] and cmsgpack.unpack(v[1])
  zrem(akey, id)
  if m and m[M_STATUS] == 'ASSIGNED' and m[M_NODE] == node then
    -- The node keeps holding the task (its load stays), now running.
    local lease = NOW + math.floor(m[M_TIMEOUT] / 1000) + grace
    m[M_STATUS], m[M_ATTEMPT], m[M_STARTED], m[M_PROGRESS], m[M_PMSG] = 'IN_PROGRESS', m[M_ATTEMPT] + 1, NOW, 0, ''
    m[M_LEASE], m[M_UPDATED] = lease, NOW
    local packed = cmsgpack.pack(m)
    redis.call('HSET', key, 'm', packed)
    zadd(K_LEASED, istr(lease), id)
    group_moved(m, v[2], 'ASSIGNED', 'IN_PROGRESS')
    event_of('task.started', '', id, v[2] or '', packed, '')
  end
end
return { EVENTS_REPLY }
