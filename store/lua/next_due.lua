-- next_due returns how long (µs, by the server's clock) until the earliest
-- SCHEDULED or RETRYING task is due: 0 when one is due now, -1 when no
-- task waits for a time. It changes nothing.
local best
for _, key in ipairs({ K_SCHEDULED, K_RETRYING }) do
  local head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if head[2] then
    local at = tonumber(head[2])
    if not best or at < best then best = at end
  end
end
if best then best = math.max(0, best - NOW) end
-- A task a rate limit holds back is due when the limit has a token.
local F = flow()
if F then
  local w = next_token(F)
  if w and (not best or w < best) then best = w end
end
if not best then return '-1' end
return istr(best)
