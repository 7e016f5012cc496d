-- update_config stores config ARGV[4] (JSON) as version ARGV[3]+1 if the
-- stored version is still ARGV[3], and records config.updated. Returns
-- {version, updated (µs)}.
local cur = tonumber(redis.call('HGET', K_CONFIG, 'version') or '0')
local prev = tonumber(ARGV[3])
if cur ~= prev then
  return err('CONFLICT', 'config changed meanwhile: version %d, not %d', cur, prev)
end
local v = istr(prev + 1)
redis.call('HSET', K_CONFIG, 'json', ARGV[4], 'version', v, 'updated', NOWS)
EVENTS[#EVENTS + 1] = { 'C', 'config.updated', '', ARGV[4], v }
return { v, NOWS }
