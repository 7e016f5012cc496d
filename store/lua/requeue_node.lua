-- requeue_node takes back every ASSIGNED and IN_PROGRESS task of a lost
-- node, if the leadership is still current. With fault tolerance on
-- (RequeueNode, ARGV[6] empty) all go back to PENDING (a requeue, not a
-- failure). With it off (FailNode, ARGV[6] the error) the IN_PROGRESS ones,
-- which may have run, end FAILED with that error (CANCELLED when a cancel
-- was requested) and only the ASSIGNED ones, never claimed, go back.
-- Its ASSIGNED tasks are in its assigned ZSET, its IN_PROGRESS ones among
-- every running task (leased).
-- ARGV[3] lease holder, ARGV[4] lease token, ARGV[5] node id, ARGV[6] the
-- error of the IN_PROGRESS tasks ('' to requeue them).
-- Returns the snapshots of the tasks taken back, by Seq.
local bad = check_lease(ARGV[3], ARGV[4])
if bad then return bad end
local node = ARGV[5]
local held = {}
for _, id in ipairs(redis.call('ZRANGE', assigned_key(node), 0, -1)) do
  local t = load(id)
  if t and t.status == 'ASSIGNED' and t.node == node then
    held[#held + 1] = t
  else
    zrem(assigned_key(node), id)
  end
end
for _, id in ipairs(redis.call('ZRANGE', K_LEASED, 0, -1)) do
  local t = load(id)
  if t and t.status == 'IN_PROGRESS' and t.node == node then held[#held + 1] = t end
end
table.sort(held, function(a, b) return a.seq < b.seq end)
local out = {}
local fail = ARGV[6] or ''
for _, t in ipairs(held) do
  if fail ~= '' and t.status == 'IN_PROGRESS' then
    out[#out + 1] = fail_attempt(t, fail, true, false, false, { disabled = true })
  else
    out[#out + 1] = requeue(t, 'node ' .. node .. ' was lost')
  end
end
return out
