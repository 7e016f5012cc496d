-- resign gives up the leadership if node ARGV[3] holds it; the token stays,
-- so the next holder's is larger. Returns "OK".
if redis.call('HGET', K_LEADER, 'holder') == ARGV[3] then
  redis.call('HSET', K_LEADER, 'holder', '')
  redis.call('HDEL', K_LEADER, 'expires')
end
return 'OK'
