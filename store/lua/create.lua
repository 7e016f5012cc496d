-- create stores new tasks and records task.created for each, all or none,
-- in order (see CreateTasks): PENDING, or SCHEDULED when their run time is
-- after now; a task whose unique key is held creates nothing
-- (RETURN_EXISTING) or cancels an unfinished holder first (REPLACE).
-- ARGV[3] number of tasks n; then 13 per task from ARGV[4] (see
-- create_args in lib.lua): id, i (the packed [type, input, metadata]),
-- priority, timeout (ns), max retries, the task's own retry backoff and
-- max backoff (ns; 0: the cluster's), runat (µs; 0: none), delay (µs),
-- unique key ('': none), unique-for (ns), on duplicate ('R': REPLACE),
-- group ('': none).
-- Returns {its events (EVENTS_REPLY), now (µs), Seq of the first task
-- created - 1, {status, runat, turn} of each task created, in order,
-- {position (1-based), holder snapshot} of each duplicate}.
local n = tonumber(ARGV[3])
local tasks, seen = {}, {}
for k = 0, n - 1 do
  local c = create_args(4 + k * CREATE_ARGS)
  if seen[c.id] or redis.call('EXISTS', tkey(c.id)) == 1 then
    return err('CONFLICT', 'task "%s" already exists', c.id)
  end
  seen[c.id] = true
  tasks[k + 1] = c
end
-- Which tasks are duplicates: of a stored holder, or of an earlier task of
-- this call (which then holds the key, being unfinished).
local taken, made = {}, 0
for k, c in ipairs(tasks) do
  if c.ukey ~= '' then
    local holder = taken[c.ukey]
    if not holder then
      local h = unique_holder(c.ukey)
      if h then holder = h.id end
    end
    if holder and not c.replace then
      c.dup = holder
    else
      taken[c.ukey] = c.id
    end
  end
  if not c.dup then made = made + 1 end
end
-- The fair share fields of the whole batch, read at once.
local fair = {}
for _, c in ipairs(tasks) do
  local vf, lf = fair_fields(c.prio, c.group)
  fair[#fair + 1] = vf
  fair[#fair + 1] = lf
end
fair_need(fair)
local base = redis.call('INCRBY', K_TASKSEQ, made) - made
local created, dups, seq = {}, {}, base
for k, c in ipairs(tasks) do
  if c.dup then
    dups[#dups + 1] = k
  else
    if c.ukey ~= '' and c.replace then
      local holder = unique_holder(c.ukey)
      if holder and not TERMINAL[holder.status] then
        cancel_task(holder, 'replaced by a newer task with the same unique key')
      end
    end
    seq = seq + 1
    stat_group_submitted(c.group, 1)
    local status, runat, turn = create_task(c, seq)
    created[#created + 1] = status
    created[#created + 1] = istr(runat)
    created[#created + 1] = istr(turn)
  end
end
local dupout = {}
for _, k in ipairs(dups) do
  dupout[#dupout + 1] = { tostring(k), snapshot(load(tasks[k].dup)) }
end
if made > 0 then stat_submitted(made) end
return { EVENTS_REPLY, NOWS, istr(base), created, dupout }
