-- requeue_node puts every ASSIGNED and IN_PROGRESS task of a lost node back
-- to PENDING (a requeue, not a failure), if the leadership is still current.
-- ARGV[3] lease holder, ARGV[4] lease token, ARGV[5] node id.
-- Returns the snapshots of the tasks put back, by Seq.
local bad = check_lease(ARGV[3], ARGV[4])
if bad then return bad end
local node = ARGV[5]
local out = {}
for _, id in ipairs(redis.call('ZRANGE', held_key(node), 0, -1)) do
  local t = load(id)
  if t and (t.status == 'ASSIGNED' or t.status == 'IN_PROGRESS') and t.node == node then
    out[#out + 1] = requeue(t, 'node ' .. node .. ' was lost')
  else
    redis.call('ZREM', held_key(node), id)
  end
end
return out
