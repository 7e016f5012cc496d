-- bulk applies one operation to the tasks ARGV[4...] (BulkTasks gives at
-- most archivist.MaxBulkBatch), skipping unknown ids and the tasks it does
-- not apply to, and returns how many it changed. ARGV[3] is the operation:
--   cancel  unfinished tasks, as cancel.lua (a running one is asked to
--           stop, unless it was already)
--   retry   FAILED, CANCELLED and TIMED_OUT tasks that are not workflow
--           steps, as retry.lua
--   delete  finished tasks that are not workflow steps, as purge.lua
--           removes them (no event)
local op = ARGV[3]
local n = 0
for k = 4, #ARGV do
  local t = load(ARGV[k])
  if t then
    local st = t.status
    if op == 'cancel' then
      if not TERMINAL[st] and not (st == 'IN_PROGRESS' and t.cancel) then
        cancel_task(t, 'cancelled before it ran')
        n = n + 1
      end
    elseif op == 'retry' then
      if not t.m[M_WF] and (st == 'FAILED' or st == 'CANCELLED' or st == 'TIMED_OUT') then
        move(t, { status = 'PENDING', failures = false, requeues = false, cancel = false, completed = false,
          runat = false, lease = false, progress = false, pmsg = false })
        task_event(t, 'task.retried', '', '')
        n = n + 1
      end
    elseif op == 'delete' then
      if not t.m[M_WF] and TERMINAL[st] then
        count(st, -1)
        group_moved(t.m, t.i, st, nil)
        local ukey = t.m[M_UKEY]
        if ukey and ukey ~= '' and redis.call('HGET', K_UNIQUE, ukey) == t.id then redis.call('HDEL', K_UNIQUE, ukey) end
        redis.call('DEL', tkey(t.id))
        zrem(K_ALL, t.id)
        n = n + 1
      end
    else
      return err('BAD_USER_INPUT', 'unknown bulk operation %s', op)
    end
  end
end
return n
