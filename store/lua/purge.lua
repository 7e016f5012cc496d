-- purge removes finished tasks that finished before ARGV[3] (µs). It walks
-- all oldest first from Seq ARGV[4] (exclusive), at most ARGV[5] tasks per
-- call, and stops at the first task created at or after the cutoff (none
-- after it can have finished before it). A removed task's unique key goes
-- with it, unless a newer task took it.
-- Returns {removed, the last Seq looked at, "1" when the walk is over}.
local cut = tonumber(ARGV[3])
local batch = tonumber(ARGV[5])
local ids = redis.call('ZRANGEBYSCORE', K_ALL, '(' .. ARGV[4], '+inf', 'LIMIT', 0, batch, 'WITHSCORES')
local removed, last = 0, ARGV[4]
for k = 1, #ids, 2 do
  local id = ids[k]
  local mp = redis.call('HGET', tkey(id), 'm')
  if mp then
    local m = cmsgpack.unpack(mp)
    if m[M_CREATED] >= cut then return { removed, last, '1' } end
    if TERMINAL[m[M_STATUS]] and m[M_COMPLETED] < cut then
      count(m[M_STATUS], -1)
      local ukey = m[M_UKEY]
      if ukey and ukey ~= '' and redis.call('HGET', K_UNIQUE, ukey) == id then redis.call('HDEL', K_UNIQUE, ukey) end
      redis.call('DEL', tkey(id))
      redis.call('ZREM', K_ALL, id)
      removed = removed + 1
    end
  else
    redis.call('ZREM', K_ALL, id)
  end
  last = ids[k + 1]
end
return { removed, last, #ids < 2 * batch and '1' or '0' }
