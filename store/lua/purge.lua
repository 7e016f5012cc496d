-- purge removes finished tasks that finished before ARGV[3] (µs). It walks
-- all oldest first from Seq ARGV[4] (exclusive), at most ARGV[5] tasks per
-- call, and stops at the first task created at or after the cutoff (none
-- after it can have finished before it). A removed task's unique key goes
-- with it, unless a newer task took it. A workflow step's task goes only
-- with its workflow: once the workflow left RUNNING and its last step
-- ended before the cutoff, the workflow and all its steps' tasks go
-- (counted among the tasks removed); until then its tasks stay.
-- Returns {removed, the last Seq looked at, "1" when the walk is over}.
local cut = tonumber(ARGV[3])
local batch = tonumber(ARGV[5])
local ids = redis.call('ZRANGEBYSCORE', K_ALL, '(' .. ARGV[4], '+inf', 'LIMIT', 0, batch, 'WITHSCORES')
local removed, last = 0, ARGV[4]

local function remove(id, m)
  count(m[M_STATUS], -1)
  group_moved(m, m[M_STATUS], nil)
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
  if st[1] == 'RUNNING' or st[5] == 0 or st[5] >= cut then return false end
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
    if m[M_CREATED] >= cut then return { removed, last, '1' } end
    if TERMINAL[m[M_STATUS]] and m[M_COMPLETED] < cut then
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
