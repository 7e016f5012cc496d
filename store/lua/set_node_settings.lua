-- set_node_settings stores node ARGV[3]'s settings ARGV[6] (JSON, in the
-- HASH <prefix>nodesettings, node id -> settings) and its description with
-- them applied, ARGV[5], if its description is still ARGV[4] and its
-- settings still ARGV[7] ('' : none); else CONFLICT, and the caller reads
-- both again (a heartbeat came in between). Records node.updated with
-- detail ARGV[8]. Returns the node's draining flag ("1" or "0").
local cur = redis.call('HGET', K_NODES, ARGV[3])
if not cur then return err('NOT_FOUND', 'node "%s" not found', ARGV[3]) end
local sk = P .. 'nodesettings'
local curs = redis.call('HGET', sk, ARGV[3]) or ''
if cur ~= ARGV[4] or curs ~= ARGV[7] then
  return err('CONFLICT', 'node "%s" changed meanwhile', ARGV[3])
end
redis.call('HSET', sk, ARGV[3], ARGV[6])
redis.call('HSET', K_NODES, ARGV[3], ARGV[5])
node_event('node.updated', ARGV[3], ARGV[8])
return tostring(redis.call('SISMEMBER', K_DRAINING, ARGV[3]))
