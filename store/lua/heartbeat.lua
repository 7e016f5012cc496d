-- heartbeat stores node ARGV[3]'s self-description ARGV[4] (JSON) and
-- records node.updated. Returns its draining flag ("1" or "0"), which a
-- heartbeat never changes.
redis.call('HSET', K_NODES, ARGV[3], ARGV[4])
local dr = tostring(redis.call('SISMEMBER', K_DRAINING, ARGV[3]))
emit({ '_n', ARGV[4], '_dr', dr, '_k', 'N', '_t', 'node.updated', '_ts', NOWS })
return dr
