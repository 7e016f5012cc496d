-- cancel cancels a task: PENDING, RETRYING and ASSIGNED ones at once; an
-- IN_PROGRESS one is marked cancel-requested.
-- ARGV[3] task id. Returns the task snapshot.
local t = load(ARGV[3])
if not t then return err('NOT_FOUND', 'task "%s" not found', ARGV[3]) end
local st = t.status
if st == 'PENDING' or st == 'RETRYING' or st == 'ASSIGNED' then
  move(t, { status = 'CANCELLED', completed = NOW, lease = false, runat = false })
  return task_event(t, 'task.cancelled', 'cancelled before it ran', '')
elseif st == 'IN_PROGRESS' then
  if t.cancel then return snapshot(t, '') end
  move(t, { cancel = 1 })
  return task_event(t, 'task.cancel_requested', '', '')
end
return err('CONFLICT', 'task %s is already %s', t.id, st)
