-- complete finishes attempt ARGV[4] of task ARGV[3] with result ARGV[5]
-- ("" for none). A report of an attempt that is not the running one is
-- refused and recorded as task.stale_report. Returns the snapshot.
local t = load(ARGV[3])
if not t then return err('NOT_FOUND', 'task "%s" not found', ARGV[3]) end
local attempt = tonumber(ARGV[4])
local stale = stale_attempt(t, attempt)
if stale then
  task_event(t.id, 'task.stale_report', 'rejected result of attempt ' .. attempt .. ': ' .. stale)
  return err('CONFLICT', '%s', stale)
end
move(t, { status = 'COMPLETED', result = ARGV[5] ~= '' and ARGV[5] or false, error = false, progress = '1',
  completed = NOW, lease = false })
return task_event(t.id, 'task.completed', '')
