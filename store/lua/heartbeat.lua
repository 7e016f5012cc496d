-- heartbeat stores node ARGV[3]'s self-description ARGV[4] (JSON) and
-- records node.updated. For the statistics, ARGV[5] is how many workers
-- the node runs tasks with, ARGV[6] its heartbeat interval and ARGV[7] the
-- time of this heartbeat on the node's clock (µs): the node's worker time
-- grows by workers × the time since its previous heartbeat (kept in
-- <prefix>stats:beats), at most one interval. Returns its draining flag
-- ("1" or "0"), which a heartbeat never changes.
redis.call('HSET', K_NODES, ARGV[3], ARGV[4])
local dr = tostring(redis.call('SISMEMBER', K_DRAINING, ARGV[3]))
EVENTS[#EVENTS + 1] = { 'N', 'node.updated', '', ARGV[3], ARGV[4], dr }
local beats = P .. 'stats:beats'
local prev = tonumber(redis.call('HGET', beats, ARGV[3]) or '')
local at, workers = tonumber(ARGV[7]), tonumber(ARGV[5])
redis.call('HSET', beats, ARGV[3], ARGV[7])
if prev and workers > 0 then
  local el = math.min(tonumber(ARGV[6]), at - prev)
  if el > 0 then
    local d = stats().sdim('n:' .. ARGV[3])
    d[5] = d[5] + workers * el
  end
end
return dr
