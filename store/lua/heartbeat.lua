-- heartbeat stores node ARGV[3]'s self-description ARGV[4] (JSON) and
-- records node.updated, if the node's settings (in the HASH
-- <prefix>nodesettings) are still ARGV[5] ('' : none), which the caller
-- applied to ARGV[4]; else it changes nothing and returns {'settings',
-- the current settings JSON} for the caller to apply and call again, so
-- that a heartbeat never undoes a settings change it crossed. For the
-- statistics, ARGV[6] is how many workers the node runs tasks with, ARGV[7]
-- its heartbeat interval and ARGV[8] the time of this heartbeat on the
-- node's clock (µs): the node's worker time grows by workers × the time
-- since its previous heartbeat (kept in <prefix>stats:beats), at most one
-- interval. Returns the node's draining flag ("1" or "0"), which a
-- heartbeat never changes.
local cur = redis.call('HGET', P .. 'nodesettings', ARGV[3]) or ''
if cur ~= (ARGV[5] or '') then return { 'settings', cur } end
redis.call('HSET', K_NODES, ARGV[3], ARGV[4])
local dr = tostring(redis.call('SISMEMBER', K_DRAINING, ARGV[3]))
EVENTS[#EVENTS + 1] = { 'N', 'node.updated', '', ARGV[3], ARGV[4], dr }
local beats = P .. 'stats:beats'
local prev = tonumber(redis.call('HGET', beats, ARGV[3]) or '')
local at, workers = tonumber(ARGV[8]), tonumber(ARGV[6])
redis.call('HSET', beats, ARGV[3], ARGV[8])
if prev and workers > 0 then
  local el = math.min(tonumber(ARGV[7]), at - prev)
  if el > 0 then
    local d = stats().sdim('n:' .. ARGV[3])
    d[5] = d[5] + workers * el
  end
end
return dr
