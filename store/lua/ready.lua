-- ready moves SCHEDULED tasks whose time came (task.due; their runat,
-- the due time, stays) and RETRYING tasks whose backoff is over
-- (task.requeued; runat cleared) to PENDING, at most ARGV[4] per call in
-- all, earliest first; then returns up to ARGV[3] PENDING task snapshots
-- in placement order; under limits or pauses, the ones that fit, holding
-- back the others (ready_limited in limit_lib.lua).
local budget = tonumber(ARGV[4])
for _, idx in ipairs({ { K_SCHEDULED, 'SCHEDULED', 'task.due', 'its time came', nil },
  { K_RETRYING, 'RETRYING', 'task.requeued', 'backoff over', false } }) do
  if budget <= 0 then break end
  local due = redis.call('ZRANGEBYSCORE', idx[1], '-inf', NOWS, 'LIMIT', 0, budget)
  budget = budget - #due
  for _, id in ipairs(due) do
    local t = load(id)
    if t and t.status == idx[2] then
      move(t, { status = 'PENDING', runat = idx[5] })
      task_event(t, idx[3], idx[4], '')
    else
      zrem(idx[1], id)
      if idx[1] == K_SCHEDULED then zrem(K_SCHEDSEQ, id) end
    end
  end
end
flush_index()
local out = {}
local limit = tonumber(ARGV[3])
local F = limit > 0 and flow()
if F then return ready_limited(F, limit) end
if limit > 0 then
  for _, id in ipairs(redis.call('ZRANGE', K_READY, 0, limit - 1)) do
    local v = redis.call('HMGET', tkey(id), 'i', 'm')
    if v[2] then out[#out + 1] = { id, v[1] or '', v[2], '' } end
  end
end
return out
