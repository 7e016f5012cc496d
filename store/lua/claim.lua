-- claim starts up to ARGV[4] tasks ASSIGNED to node ARGV[3], in placement
-- order, each as a new attempt with a lease of its timeout plus ARGV[5] (µs).
-- Returns their snapshots.
local node, limit, grace = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
if limit <= 0 then return out end
for _, id in ipairs(redis.call('ZRANGE', assigned_key(node), 0, limit - 1)) do
  local t = load(id)
  if t and t.status == 'ASSIGNED' and t.node == node then
    out[#out + 1] = start(t, node, grace)
  else
    redis.call('ZREM', assigned_key(node), id)
  end
end
return out
