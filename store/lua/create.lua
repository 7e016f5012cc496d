-- create stores new PENDING tasks and records task.created for each, all
-- or none.
-- ARGV[3] number of tasks n; then 7 per task from ARGV[4]: id, type,
-- input ("" for none), priority, timeout (ns), max retries, metadata ("" for
-- none).
-- Returns {now (µs), Seq of the first task - 1}.
local n = tonumber(ARGV[3])
local seen = {}
for i = 0, n - 1 do
  local id = ARGV[4 + i * 7]
  if seen[id] or redis.call('EXISTS', tkey(id)) == 1 then
    return err('CONFLICT', 'task "%s" already exists', id)
  end
  seen[id] = true
end
local base = redis.call('INCRBY', K_TASKSEQ, n) - n
for i = 0, n - 1 do
  local a = 4 + i * 7
  local id, prio, seq = ARGV[a], ARGV[a + 3], base + i + 1
  local f = { 'id', id, 'type', ARGV[a + 1], 'prio', prio, 'timeout', ARGV[a + 4], 'maxr', ARGV[a + 5],
    'status', 'PENDING', 'seq', istr(seq), 'created', NOWS, 'updated', NOWS }
  if ARGV[a + 2] ~= '' then f[#f + 1], f[#f + 2] = 'input', ARGV[a + 2] end
  if ARGV[a + 6] ~= '' then f[#f + 1], f[#f + 2] = 'meta', ARGV[a + 6] end
  redis.call('HSET', tkey(id), unpack(f))
  redis.call('ZADD', K_ALL, istr(seq), id)
  redis.call('ZADD', K_READY, istr(ready_score(prio, seq)), id)
  local m = #f
  f[m + 1], f[m + 2], f[m + 3], f[m + 4], f[m + 5], f[m + 6] = '_k', 'T', '_t', 'task.created', '_ts', NOWS
  emit(f)
end
redis.call('HINCRBY', K_COUNTS, 'PENDING', n)
return { NOWS, istr(base) }
