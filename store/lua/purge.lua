-- purge removes finished tasks that finished before ARGV[3] (µs), or,
-- FAILED and TIMED_OUT ones, before ARGV[6] (µs). It walks all oldest
-- first from Seq ARGV[4] (exclusive), at most ARGV[5] tasks per call, and
-- stops at the first task created at or after the later cutoff (none after
-- it can have finished before it). A removed task's unique key goes
-- with it, unless a newer task took it. A workflow step's task goes only
-- with its workflow: once the workflow left RUNNING and its last step
-- ended before the cutoff (a FAILED workflow: the failed one), the
-- workflow and all its steps' tasks go
-- (counted among the tasks removed); until then its tasks stay.
-- Returns {removed, the last Seq looked at, "1" when the walk is over}.
local cut = tonumber(ARGV[3])
local failed_cut = tonumber(ARGV[6])
local last_cut = math.max(cut, failed_cut)
local batch = tonumber(ARGV[5])
local function cut_of(status)
  if status == 'FAILED' or status == 'TIMED_OUT' then return failed_cut end
  return cut
end
local ids = redis.call('ZRANGEBYSCORE', K_ALL, '(' .. ARGV[4], '+inf', 'LIMIT', 0, batch, 'WITHSCORES')
local removed, last = 0, ARGV[4]
fair_prune()
-- Whether any task has a group: only then is a removed task's i read for
-- its group's counts.
local grouped = redis.call('EXISTS', P .. 'groups') == 1

local function remove(id, m)
  count(m[M_STATUS], -1)
  if grouped then group_moved(m, redis.call('HGET', tkey(id), 'i'), m[M_STATUS], nil) end
  local ukey = m[M_UKEY]
  if ukey and ukey ~= '' and redis.call('HGET', K_UNIQUE, ukey) == id then redis.call('HDEL', K_UNIQUE, ukey) end
  redis.call('DEL', tkey(id))
  redis.call('ZREM', K_ALL, id)
  removed = removed + 1
end

-- remove_workflow removes workflow id with its steps' tasks if it ended
-- before the cutoff, and reports whether it did (or was gone already).
local function remove_workflow(id)
  local sp = redis.call('HGET', wf_key(id), 's')
  if not sp then return true end
  local st = cmsgpack.unpack(sp)
  if st[1] == 'RUNNING' or st[5] == 0 or st[5] >= cut_of(st[1]) then return false end
  local w = wf_get(id)
  for _, s in ipairs(w.order) do
    local mp = redis.call('HGET', tkey(s.task), 'm')
    if mp then remove(s.task, cmsgpack.unpack(mp)) end
  end
  redis.call('DEL', wf_key(id))
  redis.call('ZREM', K_WORKFLOWS, id)
  return true
end

for k = 1, #ids, 2 do
  local id = ids[k]
  local mp = redis.call('HGET', tkey(id), 'm')
  if mp then
    local m = cmsgpack.unpack(mp)
    if m[M_CREATED] >= last_cut then return { removed, last, '1' } end
    if TERMINAL[m[M_STATUS]] and m[M_COMPLETED] < cut_of(m[M_STATUS]) then
      if not m[M_WF] then
        remove(id, m)
      elseif remove_workflow(m[M_WF]) and redis.call('EXISTS', tkey(id)) == 1 then
        remove(id, m) -- a step its workflow no longer lists
      end
    end
  else
    redis.call('ZREM', K_ALL, id)
  end
  last = ids[k + 1]
end
return { removed, last, #ids < 2 * batch and '1' or '0' }
