-- claim_one starts task ARGV[4] on node ARGV[3] as a new attempt, if it is
-- PENDING or ASSIGNED to that node; lease: its timeout plus ARGV[5] (µs).
-- Returns its snapshot.
local node, id = ARGV[3], ARGV[4]
local t = load(id)
if not t then return err('NOT_FOUND', 'task "%s" not found', id) end
if not (t.status == 'PENDING' or (t.status == 'ASSIGNED' and t.node == node)) then
  return err('CONFLICT', 'task %s is %s and cannot be started on %s', id, t.status, node)
end
return start(t, node, tonumber(ARGV[5]))
