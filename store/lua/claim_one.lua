-- claim_one starts task ARGV[4] on node ARGV[3] as a new attempt, if it is
-- PENDING or ASSIGNED to that node; lease: its timeout plus ARGV[5] (µs).
-- Returns its snapshot.
local node, id = ARGV[3], ARGV[4]
local t = load(id)
if not t then return err('NOT_FOUND', 'task "%s" not found', id) end
if not (t.status == 'PENDING' or (t.status == 'ASSIGNED' and t.node == node)) then
  return err('CONFLICT', 'task %s is %s and cannot be started on %s', id, t.status, node)
end
if t.status == 'PENDING' then
  local F = flow()
  if F then
    local by = blocker(F, stats().itype(t.i), task_group(t.m, t.i), {})
    if by then return err('CONFLICT', 'task %s is held back (%s) and cannot be started now', id, by) end
    take_slots(F, id, t.m, t.i)
  end
end
return start(t, node, tonumber(ARGV[5]))
