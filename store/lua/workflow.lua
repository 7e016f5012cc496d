-- workflow creates a workflow, cancels or retries one, or adds steps to
-- one (see Workflows in lib.lua). The rules mirror archivist.Workflow's
-- Cancel, Retry and AddSteps (workflow.go); a step's end is StepEnded
-- (wf_flush in lib.lua).
-- ARGV[3] the change, then:
--   create  ARGV[4] workflow id, ARGV[5] header (packed in Go), ARGV[6]
--           onFailure, ARGV[7] number of steps, then the steps from ARGV[8]
--   cancel  ARGV[4] workflow id
--   retry   ARGV[4] workflow id
--   add     ARGV[4] id of the task of the step adding, ARGV[5] its running
--           attempt, ARGV[6] number of steps, then the steps from ARGV[7]
-- where each step is its key, how many keys it depends on, those keys,
-- and its task's 13 create ARGV (create_args).
-- Returns {the workflow (wf_reply)}, and for create and add also now (µs)
-- and the Seq of the first task created - 1.
local op = ARGV[3]

-- read_steps reads n steps from ARGV[a].
local function read_steps(n, a)
  local out = {}
  for k = 1, n do
    local s = { key = ARGV[a], deps = {} }
    local nd = tonumber(ARGV[a + 1])
    for j = 1, nd do s.deps[j] = ARGV[a + 1 + j] end
    a = a + 2 + nd
    s.c = create_args(a)
    a = a + CREATE_ARGS
    out[k] = s
  end
  return out
end

-- taken refuses task ids that exist.
local function taken(steps)
  for _, s in ipairs(steps) do
    if redis.call('EXISTS', tkey(s.c.id)) == 1 then return err('CONFLICT', 'task "%s" already exists', s.c.id) end
  end
  return nil
end

-- make_tasks creates the tasks of steps, which w holds already, in order:
-- WAITING or PENDING as their step. Returns the Seq before the first.
local function make_tasks(w, steps)
  local base = redis.call('INCRBY', K_TASKSEQ, #steps) - #steps
  for k, s in ipairs(steps) do
    local c = s.c
    c.wf, c.step, c.waiting = w.id, s.key, w.steps[s.key].status == 'WAITING'
    c.runat, c.delay, c.ukey = 0, 0, ''
    create_task(c, base + k)
    stat_group_submitted(c.group, 1)
  end
  stat_submitted(#steps)
  return base
end

if op == 'create' then
  local id = ARGV[4]
  if redis.call('EXISTS', wf_key(id)) == 1 then return err('CONFLICT', 'workflow "%s" already exists', id) end
  local steps = read_steps(tonumber(ARGV[7]), 8)
  local e = taken(steps)
  if e then return e end
  local w = { id = id, header = ARGV[5], status = 'RUNNING', error = '', created = NOW, updated = NOW, completed = 0,
    seq = redis.call('INCR', K_WFSEQ), policy = ARGV[6], n = #steps, steps = {}, order = {}, dirty = {} }
  for k, s in ipairs(steps) do
    local st = { key = s.key, idx = k, status = 'WAITING', task = s.c.id, deps = s.deps }
    if #s.deps == 0 then st.status = 'PENDING' end
    w.steps[s.key], w.order[k] = st, st
    wf_dirty(w, st)
  end
  WFS[id] = w
  local base = make_tasks(w, steps)
  redis.call('HSET', wf_key(id), 'h', w.header)
  redis.call('ZADD', K_WORKFLOWS, istr(w.seq), id)
  w.event = 'workflow.created'
  wf_flush()
  return { wf_reply(w), NOWS, istr(base) }
end

local w
if op == 'add' then
  local t = load(ARGV[4])
  if not t then return err('NOT_FOUND', 'task "%s" not found', ARGV[4]) end
  local stale = stale_attempt(t, tonumber(ARGV[5]))
  if stale then return err('CONFLICT', '%s', stale) end
  if not t.m[M_WF] then return err('BAD_USER_INPUT', 'task %s is not a workflow step', t.id) end
  w = wf_get(t.m[M_WF])
  if not w then return err('NOT_FOUND', 'workflow "%s" not found', t.m[M_WF]) end
  local steps = read_steps(tonumber(ARGV[6]), 7)
  local e = taken(steps)
  if e then return e end
  -- Workflow.AddSteps
  local by = t.m[M_STEP]
  if w.status ~= 'RUNNING' then
    return err('CONFLICT', 'workflow %s is %s: steps can be added only while it runs', w.id, w.status)
  end
  if not w.steps[by] then return err('NOT_FOUND', 'workflow %s has no step "%s"', w.id, by) end
  local batch, added = {}, {}
  for _, s in ipairs(steps) do
    if not w.steps[s.key] then batch[s.key] = true end
  end
  for _, s in ipairs(steps) do
    if batch[s.key] then
      for _, d in ipairs(s.deps) do
        local p = w.steps[d]
        if d ~= by and not batch[d] and (not p or p.status ~= 'COMPLETED') then
          return err('BAD_USER_INPUT',
            'added step %s depends on %s: an added step may depend only on the step adding it (%s), on steps added with it and on completed steps',
            s.key, d, by)
        end
      end
      added[#added + 1] = s
    end
  end
  if #w.order + #added > 1000 then -- archivist.MaxWorkflowSteps
    return err('BAD_USER_INPUT', 'workflow %s would have %d steps; the limit is %d', w.id, #w.order + #added, 1000)
  end
  local base = 0
  if #added > 0 then
    for _, c in ipairs(w.order) do
      if contains(c.deps, by) then
        for _, s in ipairs(added) do c.deps[#c.deps + 1] = s.key end
        wf_dirty(w, c)
      end
    end
    for _, s in ipairs(added) do
      w.n = w.n + 1
      local st = { key = s.key, idx = w.n, status = 'WAITING', task = s.c.id, by = by, deps = s.deps }
      w.steps[s.key] = st
      w.order[#w.order + 1] = st
      wf_dirty(w, st)
    end
    for _, s in ipairs(added) do
      local st = w.steps[s.key]
      if wf_ready(w, st) then st.status = 'PENDING' end
    end
    base = make_tasks(w, added)
  end
  w.updated = NOW
  wf_touch(w)
  wf_flush()
  return { wf_reply(w), NOWS, istr(base) }
end

w = wf_get(ARGV[4])
if not w then return err('NOT_FOUND', 'workflow "%s" not found', ARGV[4]) end

if op == 'cancel' then
  -- Workflow.Cancel
  if w.status ~= 'RUNNING' then
    return err('CONFLICT', 'workflow %s is %s: only a RUNNING workflow can be cancelled', w.id, w.status)
  end
  w.status, w.error, w.updated = 'CANCELLED', 'cancelled', NOW
  local cancel = {}
  for _, s in ipairs(w.order) do
    if not TERMINAL[s.status] then cancel[#cancel + 1] = s end
  end
  if #cancel == 0 then w.completed = NOW end
  wf_touch(w)
  -- As CancelTask: a running step is asked to stop; its end ends it.
  for _, s in ipairs(cancel) do
    local t = load(s.task)
    if t and not TERMINAL[t.status] then cancel_task(t, 'workflow cancelled') end
  end
  wf_flush()
  return { wf_reply(w) }
end

if op == 'retry' then
  -- Workflow.Retry
  if w.status ~= 'FAILED' and w.status ~= 'CANCELLED' then
    return err('CONFLICT', 'workflow %s is %s: only a FAILED or CANCELLED workflow can be retried', w.id, w.status)
  end
  for _, s in ipairs(w.order) do
    if not TERMINAL[s.status] then
      return err('CONFLICT', 'workflow %s still has steps running: retry it when they have ended', w.id)
    end
  end
  local again = {}
  for _, s in ipairs(w.order) do
    if s.status ~= 'COMPLETED' then
      s.status = 'WAITING'
      again[#again + 1] = s
      wf_dirty(w, s)
    end
  end
  for _, s in ipairs(again) do
    if wf_ready(w, s) then s.status = 'PENDING' end
  end
  w.status, w.error, w.completed, w.updated = 'RUNNING', '', 0, NOW
  wf_touch(w)
  for _, s in ipairs(again) do
    local t = load(s.task)
    if t then
      -- A PENDING one waits to be placed from now (Task.ReadySince).
      local runat = false
      if s.status == 'PENDING' then runat = NOW end
      move(t, { status = s.status, failures = false, requeues = false, cancel = false, completed = false,
        runat = runat, lease = false, progress = false, pmsg = false, error = false })
      redis.call('HDEL', tkey(t.id), 'result')
      task_event(t, 'task.retried', '', '')
    end
  end
  wf_flush()
  return { wf_reply(w) }
end
return err('BAD_USER_INPUT', 'unknown workflow change "%s"', op)
