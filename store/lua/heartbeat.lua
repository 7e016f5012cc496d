-- heartbeat stores node ARGV[3]'s self-description ARGV[4] (JSON) and
-- records node.updated, if the node's settings (in the HASH
-- <prefix>nodesettings) are still ARGV[5] ('' : none), which the caller
-- applied to ARGV[4]; else it changes nothing and returns {'settings',
-- the current settings JSON} for the caller to apply and call again, so
-- that a heartbeat never undoes a settings change it crossed. Returns the
-- node's draining flag ("1" or "0"), which a heartbeat never changes.
local cur = redis.call('HGET', P .. 'nodesettings', ARGV[3]) or ''
if cur ~= (ARGV[5] or '') then return { 'settings', cur } end
redis.call('HSET', K_NODES, ARGV[3], ARGV[4])
local dr = tostring(redis.call('SISMEMBER', K_DRAINING, ARGV[3]))
EVENTS[#EVENTS + 1] = { 'N', 'node.updated', '', ARGV[3], ARGV[4], dr }
return dr
