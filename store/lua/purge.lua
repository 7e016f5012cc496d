-- purge removes finished tasks that finished before ARGV[3] (µs), at most
-- ARGV[4] per call. Returns how many it removed.
local ids = redis.call('ZRANGEBYSCORE', K_FINISHED, '-inf', '(' .. ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
for _, id in ipairs(ids) do
  local st = redis.call('HGET', tkey(id), 'status')
  if st then redis.call('HINCRBY', K_COUNTS, st, -1) end
  redis.call('DEL', tkey(id))
  redis.call('ZREM', K_ALL, id)
  redis.call('ZREM', K_FINISHED, id)
end
return #ids
