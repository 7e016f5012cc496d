-- remove_node forgets node ARGV[3] and records node.removed. Returns "OK".
if redis.call('HEXISTS', K_NODES, ARGV[3]) == 0 then
  return err('NOT_FOUND', 'node "%s" not found', ARGV[3])
end
node_event('node.removed', ARGV[3], '')
redis.call('HDEL', K_NODES, ARGV[3])
redis.call('SREM', K_DRAINING, ARGV[3])
redis.call('HDEL', P .. 'stats:beats', ARGV[3])
return 'OK'
