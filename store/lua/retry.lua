-- retry puts a FAILED, CANCELLED or TIMED_OUT task back to PENDING with its
-- failure and requeue counts reset. A workflow step is retried with its
-- workflow (workflow.lua), not alone.
-- ARGV[3] task id. Returns the task snapshot.
local t = load(ARGV[3])
if not t then return err('NOT_FOUND', 'task "%s" not found', ARGV[3]) end
if t.m[M_WF] then
  return err('CONFLICT', 'task %s is step %s of workflow %s: retry the workflow (retryWorkflow), which runs it again with what depends on it',
    t.id, t.m[M_STEP], t.m[M_WF])
end
if t.status ~= 'FAILED' and t.status ~= 'CANCELLED' and t.status ~= 'TIMED_OUT' then
  return err('CONFLICT', 'task %s is %s; only FAILED, CANCELLED or TIMED_OUT tasks can be retried', t.id, t.status)
end
move(t, { status = 'PENDING', failures = false, requeues = false, cancel = false, completed = false,
  runat = false, lease = false, progress = false, pmsg = false })
return task_event(t, 'task.retried', '', '')
