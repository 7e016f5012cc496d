-- leader returns the lease {holder, token, expires} if it is held at the
-- server's now, else {}.
local l = redis.call('HMGET', K_LEADER, 'holder', 'token', 'expires')
if l[1] and l[1] ~= '' and NOW < (tonumber(l[3]) or 0) then return { l[1], l[2], l[3] } end
return {}
