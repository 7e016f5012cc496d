-- cancel cancels a task: SCHEDULED, PENDING, RETRYING and ASSIGNED ones at
-- once; an IN_PROGRESS one is marked cancel-requested.
-- ARGV[3] task id. Returns the task snapshot.
local t = load(ARGV[3])
if not t then return err('NOT_FOUND', 'task "%s" not found', ARGV[3]) end
if TERMINAL[t.status] then
  return err('CONFLICT', 'task %s is already %s', t.id, t.status)
end
return cancel_task(t, 'cancelled before it ran')
