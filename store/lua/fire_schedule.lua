-- fire_schedule records one tick of schedule ARGV[3] and submits its task
-- (see archivist.ScheduleFire and schedule.lua for the two HASHes).
-- ARGV[4] '1' for a manual trigger (no lease, NextRunAt kept, LastRunAt
-- now); ARGV[5], ARGV[6] the leadership (holder, token) of a tick;
-- ARGV[7] the tick, ARGV[8] the next tick, ARGV[9] what the last run
-- becomes (µs; the tick, or when missed ticks ran once); ARGV[10] '1'
-- when there is a task to submit, then its 13 create ARGV from ARGV[11]
-- (create_args).
-- A tick is refused (CONFLICT, nothing changed) under a stale lease, for
-- a paused schedule, or when the schedule's next run is not the tick (it
-- fired already). Under the SKIP overlap policy a tick (not a manual
-- trigger) submits nothing while the task of the last one is unfinished;
-- under CANCEL_PREVIOUS that task is cancelled first (cancel_task). A task
-- whose unique key is held is a duplicate (submit): the holder becomes the
-- last task. Records the task's events and schedule.updated.
-- Returns {definition, state, skipped ('' when a task was submitted), how
-- ('c' created, 'd' duplicate, '' none), snapshot of the task}.
local KD, KS = P .. 'schedules', P .. 'schedules:state'
local name, manual = ARGV[3], ARGV[4] == '1'
if not manual then
  local e = check_lease(ARGV[5], ARGV[6])
  if e then return e end
end
local cur = redis.call('HGET', KS, name)
if not cur then return err('NOT_FOUND', 'schedule "%s" not found', name) end
local st = cmsgpack.unpack(cur)
local tick = tonumber(ARGV[7])
if not manual then
  if st[1] == 1 then return err('CONFLICT', 'schedule "%s" is paused', name) end
  if st[2] ~= tick then
    return err('CONFLICT', 'tick %s of schedule "%s" is not its next run (%s, unix µs): fired already?',
      istr(tick), name, istr(st[2]))
  end
end
local c
if ARGV[10] == '1' then
  c = create_args(11)
  if redis.call('EXISTS', tkey(c.id)) == 1 then return err('CONFLICT', 'task "%s" already exists', c.id) end
end
-- Everything is checked: from here on the script writes.
local overlap = st[7] or ''
local prev
if st[4] ~= '' then
  local t = load(st[4])
  if t and not TERMINAL[t.status] then prev = t end
end
local skipped, how, snap = '', '', nil
if not c then
  skipped = 'missed tick skipped (misfire policy SKIP)'
elseif prev and overlap == 'SKIP' and not manual then
  skipped = 'the task ' .. prev.id .. ' of the previous tick is still ' .. prev.status .. ' (overlap policy SKIP)'
else
  if prev and overlap == 'CANCEL_PREVIOUS' then
    cancel_task(prev, 'cancelled by schedule ' .. name .. ': a new tick came')
  end
  local id, holder = submit(c)
  if id then
    how, snap, st[4] = 'c', snapshot(load(id), ''), id
  else
    how, snap, st[4] = 'd', snapshot(holder), holder.id
  end
end
if manual then
  st[3] = NOW
else
  st[2], st[3] = tonumber(ARGV[8]), tonumber(ARGV[9])
end
st[6] = NOW
local packed = cmsgpack.pack(st)
redis.call('HSET', KS, name, packed)
local def = redis.call('HGET', KD, name)
EVENTS[#EVENTS + 1] = { 'S', 'schedule.updated', '', name, def, packed }
if snap then return { def, packed, skipped, how, snap } end
return { def, packed, skipped, how }
