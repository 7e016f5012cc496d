-- campaign acquires the leadership for node ARGV[3] for ARGV[4] µs, or
-- renews it when the node holds it; a new holder gets the next token and
-- node.leader is recorded. Returns the current lease {holder, token, expires}.
local node, ttl = ARGV[3], tonumber(ARGV[4])
local l = redis.call('HMGET', K_LEADER, 'holder', 'token', 'expires')
local holder, token, expires = l[1] or '', tonumber(l[2]) or 0, tonumber(l[3]) or 0
if holder == node and NOW < expires then
  expires = NOW + ttl
  redis.call('HSET', K_LEADER, 'expires', istr(expires))
elseif holder == '' or NOW >= expires then
  holder, token, expires = node, token + 1, NOW + ttl
  redis.call('HSET', K_LEADER, 'holder', holder, 'token', istr(token), 'expires', istr(expires))
  node_event('node.leader', node, 'leader is now ' .. node)
end
return { holder, istr(token), istr(expires) }
