-- release gives running attempt ARGV[4] of task ARGV[3] back unfinished:
-- PENDING again, a requeue rather than a failure. Returns the snapshot.
local t = load(ARGV[3])
if not t then return err('NOT_FOUND', 'task "%s" not found', ARGV[3]) end
local stale = stale_attempt(t, tonumber(ARGV[4]))
if stale then return err('CONFLICT', '%s', stale) end
return requeue(t, 'released by node ' .. t.node)
