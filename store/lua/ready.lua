-- ready moves SCHEDULED tasks whose time came (task.due; their runat,
-- the due time, stays) and RETRYING tasks whose backoff is over
-- (task.requeued; runat cleared) to PENDING, at most ARGV[4] per call in
-- all, earliest first; then returns up to ARGV[3] PENDING task snapshots
-- in placement order; under limits or pauses, the ones that fit, holding
-- back the others (ready_limited in limit_lib.lua).
--
-- With ARGV[5] 'round' (RoundReader: a placement round's one call), it
-- first reads the node loads and computes the limit itself from the free
-- slots of the nodes that may take tasks: ARGV[6] margin, ARGV[7] max, then
-- pairs of node id and workers; limit = min(free + min(free, margin), max),
-- and with no free slot it promotes and reads nothing. It returns {loads
-- (HGETALL's flat list), limit, snapshots}.
local limit = tonumber(ARGV[3])
local loads
if ARGV[5] == 'round' then
  loads = redis.call('HGETALL', K_LOADS)
  local held = {}
  for j = 1, #loads, 2 do held[loads[j]] = tonumber(loads[j + 1]) end
  local free = 0
  for j = 8, #ARGV, 2 do
    local f = tonumber(ARGV[j + 1]) - (held[ARGV[j]] or 0)
    if f > 0 then free = free + f end
  end
  limit = math.min(free + math.min(free, tonumber(ARGV[6])), tonumber(ARGV[7]))
  if limit <= 0 then return { loads, 0, {} } end
end
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
local F = limit > 0 and flow()
if F then
  out = ready_limited(F, limit)
elseif limit > 0 then
  for _, id in ipairs(redis.call('ZRANGE', K_READY, 0, limit - 1)) do
    local v = redis.call('HMGET', tkey(id), 'i', 'm')
    if v[2] then out[#out + 1] = { id, v[1] or '', v[2], '' } end
  end
end
if loads then return { loads, limit, out } end
return out
