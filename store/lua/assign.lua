-- assign moves PENDING tasks to ASSIGNED on nodes if the leadership is
-- still current; tasks no longer PENDING are skipped.
-- ARGV[3] lease holder, ARGV[4] lease token, ARGV[5] claim window (µs),
-- then pairs from ARGV[6]: task id, node id.
-- Returns the snapshots of the assigned tasks.
local bad = check_lease(ARGV[3], ARGV[4])
if bad then return bad end
local within = tonumber(ARGV[5])
local out = {}
for i = 6, #ARGV, 2 do
  local id, node = ARGV[i], ARGV[i + 1]
  local t = node ~= '' and load(id)
  if t and t.status == 'PENDING' then
    move(t, { status = 'ASSIGNED', node = node, assigned = NOW, lease = NOW + within })
    out[#out + 1] = task_event(id, 'task.assigned', '')
  end
end
return out
