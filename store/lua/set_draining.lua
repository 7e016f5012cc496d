-- set_draining sets (ARGV[4] "1") or clears node ARGV[3]'s draining flag
-- and records node.updated. Returns the node JSON.
local json = redis.call('HGET', K_NODES, ARGV[3])
if not json then return err('NOT_FOUND', 'node "%s" not found', ARGV[3]) end
if ARGV[4] == '1' then
  redis.call('SADD', K_DRAINING, ARGV[3])
else
  redis.call('SREM', K_DRAINING, ARGV[3])
end
node_event('node.updated', ARGV[3], '')
return json
