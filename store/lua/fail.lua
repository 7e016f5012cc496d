-- fail records that attempt ARGV[4] of task ARGV[3] failed: ARGV[5] error,
-- ARGV[6] permanent, ARGV[7] timed out, ARGV[8] cancelled, ARGV[9] retry
-- disabled (each "1" or "0"), ARGV[10] backoff base (ns), ARGV[11] backoff
-- max (ns), ARGV[12] jitter fraction in [0, 1). A report of an attempt that
-- is not the running one is refused and recorded as task.stale_report.
-- Returns the snapshot.
local t = load(ARGV[3])
if not t then return err('NOT_FOUND', 'task "%s" not found', ARGV[3]) end
local attempt = tonumber(ARGV[4])
local stale = stale_attempt(t, attempt)
if stale then
  task_event(t.id, 'task.stale_report', 'rejected failure of attempt ' .. attempt .. ': ' .. stale)
  return err('CONFLICT', '%s', stale)
end
return fail_attempt(t, ARGV[5], ARGV[6] == '1', ARGV[7] == '1', ARGV[8] == '1',
  { disabled = ARGV[9] == '1', base = tonumber(ARGV[10]), max = tonumber(ARGV[11]), jitter = tonumber(ARGV[12]) })
