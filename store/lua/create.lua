-- create stores new PENDING tasks and records task.created for each, all
-- or none.
-- ARGV[3] number of tasks n; then 7 per task from ARGV[4]: id, i (the
-- packed [type, input, metadata]), priority, timeout (ns), max retries,
-- the task's own retry backoff and max backoff (ns; 0: the cluster's; m
-- holds them only when one is set).
-- Returns {now (µs), Seq of the first task - 1}.
local n = tonumber(ARGV[3])
local seen = {}
for k = 0, n - 1 do
  local id = ARGV[4 + k * 7]
  if seen[id] or redis.call('EXISTS', tkey(id)) == 1 then
    return err('CONFLICT', 'task "%s" already exists', id)
  end
  seen[id] = true
end
local base = redis.call('INCRBY', K_TASKSEQ, n) - n
for k = 0, n - 1 do
  local a = 4 + k * 7
  local id, i, prio, seq = ARGV[a], ARGV[a + 1], ARGV[a + 2], base + k + 1
  local fields = { 'PENDING', 0, 0, 0, 0, '', '', 0, NOW, NOW, 0, 0, 0, 0, 0, '',
    prio, seq, tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]) }
  local rb, mb = tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6])
  if rb ~= 0 or mb ~= 0 then
    fields[M_BACKOFF], fields[M_MAXBACKOFF] = rb, mb
  end
  local m = cmsgpack.pack(fields)
  redis.call('HSET', tkey(id), 'i', i, 'm', m)
  zadd(K_ALL, istr(seq), id)
  zadd(K_READY, ready_score(prio, seq), id)
  EVENTS[#EVENTS + 1] = { 'T', 'task.created', '', id, i, m, '' }
end
stat_submitted(n)
return { NOWS, istr(base) }
