-- progress records progress ARGV[5] and message ARGV[6] of attempt ARGV[4]
-- of task ARGV[3], if that attempt is running. Returns "OK".
local t = load(ARGV[3])
if not t then return err('NOT_FOUND', 'task "%s" not found', ARGV[3]) end
local stale = stale_attempt(t, tonumber(ARGV[4]))
if stale then return err('CONFLICT', '%s', stale) end
move(t, { progress = tonumber(ARGV[5]), pmsg = ARGV[6] ~= '' and ARGV[6] or false })
task_event(t, 'task.progress', '', '')
return 'OK'
