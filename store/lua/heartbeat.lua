-- heartbeat stores node ARGV[3]'s self-description ARGV[4] (JSON) and
-- records node.updated. Returns its draining flag ("1" or "0"), which a
-- heartbeat never changes.
redis.call('HSET', K_NODES, ARGV[3], ARGV[4])
local dr = tostring(redis.call('SISMEMBER', K_DRAINING, ARGV[3]))
EVENTS[#EVENTS + 1] = { 'N', 'node.updated', '', ARGV[3], ARGV[4], dr }
return dr
