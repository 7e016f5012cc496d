-- ready moves RETRYING tasks whose backoff is over to PENDING (at most
-- ARGV[4] per call), then returns up to ARGV[3] PENDING task snapshots in
-- placement order.
local due = redis.call('ZRANGEBYSCORE', K_RETRYING, '-inf', NOWS, 'LIMIT', 0, tonumber(ARGV[4]))
for _, id in ipairs(due) do
  local t = load(id)
  if t and t.status == 'RETRYING' then
    move(t, { status = 'PENDING', runat = false })
    task_event(id, 'task.requeued', 'backoff over')
  else
    redis.call('ZREM', K_RETRYING, id)
  end
end
local out = {}
local limit = tonumber(ARGV[3])
if limit > 0 then
  for _, id in ipairs(redis.call('ZRANGE', K_READY, 0, limit - 1)) do
    out[#out + 1] = redis.call('HGETALL', tkey(id))
  end
end
return out
