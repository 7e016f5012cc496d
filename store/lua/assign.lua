-- assign moves PENDING tasks to ASSIGNED on nodes if the leadership is
-- still current; tasks no longer PENDING are skipped.
-- ARGV[3] lease holder, ARGV[4] lease token, ARGV[5] claim window (µs),
-- then triples from ARGV[6]: task id, node id, and '' to assign, or the
-- lease grace (µs) to start the task on the node at once, as claim.lua
-- would right after (the leader's own node, for its free workers).
-- Under limits or pauses a task that does not fit now is held back
-- (task.held) instead, and one that does takes its slots (limit_lib.lua).
-- Returns {its events}: the assigned (or started) tasks, packed (see
-- EVENTS_REPLY).
--
-- The hot path of placement: it changes m in place rather than through
-- load and move (the same steps, without their generality).
local bad = check_lease(ARGV[3], ARGV[4])
if bad then return bad end
local lease = NOW + tonumber(ARGV[5])
local F = flow()
for a = 6, #ARGV, 3 do
  local id, node, start = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  if node ~= '' then
    local key = tkey(id)
    local v = redis.call('HMGET', key, 'm', 'i')
    local m = v[1] and cmsgpack.unpack(v[1])
    if m and m[M_STATUS] == 'PENDING' and F then
      -- Under limits: a task that no longer fits is held instead.
      local by, lid, hk = blocker(F, stats().itype(v[2] or ''), task_group(m, v[2] or ''), {})
      if by then
        if by ~= m[M_HELD] then hold(id, m, v[2] or '', by, hk, lid) end
        m = nil
      else
        take_slots(F, id, m, v[2] or '')
      end
    end
    if m and m[M_STATUS] == 'PENDING' and start ~= '' then
      -- Placed and started: what claim.lua does to an assigned task.
      local deadline = NOW + math.floor(m[M_TIMEOUT] / 1000) + tonumber(start)
      m[M_STATUS], m[M_NODE], m[M_ASSIGNED], m[M_ATTEMPT], m[M_STARTED] = 'IN_PROGRESS', node, NOW, m[M_ATTEMPT] + 1, NOW
      m[M_PROGRESS], m[M_PMSG], m[M_LEASE], m[M_UPDATED] = 0, '', deadline, NOW
      local packed = cmsgpack.pack(m)
      redis.call('HSET', key, 'm', packed)
      zrem(K_READY, id)
      fair_placed(m[M_PRIO], m[M_TURN])
      zadd(K_LEASED, istr(deadline), id)
      add_load(node, 1)
      group_moved(m, v[2], 'PENDING', 'IN_PROGRESS')
      event_of('task.started', '', id, v[2] or '', packed, '')
    elseif m and m[M_STATUS] == 'PENDING' then
      m[M_STATUS], m[M_NODE], m[M_ASSIGNED], m[M_LEASE], m[M_UPDATED] = 'ASSIGNED', node, NOW, lease, NOW
      local packed = cmsgpack.pack(m)
      redis.call('HSET', key, 'm', packed)
      zrem(K_READY, id)
      fair_placed(m[M_PRIO], m[M_TURN])
      zadd(assigned_key(node), ready_score(m[M_PRIO], m[M_SEQ]), id)
      add_load(node, 1)
      group_moved(m, v[2], 'PENDING', 'ASSIGNED')
      event_of('task.assigned', '', id, v[2] or '', packed, '')
    end
  end
end
return { EVENTS_REPLY }
