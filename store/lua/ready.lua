-- ready moves RETRYING tasks whose backoff is over to PENDING (at most
-- ARGV[4] per call), then returns up to ARGV[3] PENDING task snapshots in
-- placement order.
local due = redis.call('ZRANGEBYSCORE', K_RETRYING, '-inf', NOWS, 'LIMIT', 0, tonumber(ARGV[4]))
for _, id in ipairs(due) do
  local t = load(id)
  if t and t.status == 'RETRYING' then
    move(t, { status = 'PENDING', runat = false })
    task_event(t, 'task.requeued', 'backoff over', '')
  else
    zrem(K_RETRYING, id)
  end
end
flush_index()
local out = {}
local limit = tonumber(ARGV[3])
if limit > 0 then
  for _, id in ipairs(redis.call('ZRANGE', K_READY, 0, limit - 1)) do
    local v = redis.call('HMGET', tkey(id), 'i', 'm')
    if v[2] then out[#out + 1] = { id, v[1] or '', v[2], '' } end
  end
end
return out
