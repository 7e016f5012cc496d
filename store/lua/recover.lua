-- recover takes back tasks whose lease ran out, if the leadership is still
-- current: ASSIGNED ones (found in the assigned ZSET of every node that
-- holds tasks) return to PENDING, IN_PROGRESS ones (leased) count as a
-- timed-out attempt.
-- ARGV[3] lease holder, ARGV[4] lease token, ARGV[5] retry disabled ("1"),
-- ARGV[6] backoff base (ns), ARGV[7] backoff max (ns), ARGV[8] jitter
-- fraction in [0, 1), ARGV[9] at most this many tasks per call.
-- Returns the snapshots of the tasks taken back.
local bad = check_lease(ARGV[3], ARGV[4])
if bad then return bad end
local disabled, base, max, jitter = ARGV[5] == '1', tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local limit = tonumber(ARGV[9])
local out = {}
for _, node in ipairs(redis.call('HKEYS', K_LOADS)) do
  for _, id in ipairs(redis.call('ZRANGE', assigned_key(node), 0, -1)) do
    if #out >= limit then return out end
    local t = load(id)
    if t and t.status == 'ASSIGNED' and t.node == node then
      if t.m[M_LEASE] <= NOW then
        move(t, { status = 'PENDING', lease = false })
        out[#out + 1] = task_event(t, 'task.requeued', 'node ' .. node .. ' did not start it in time', '')
      end
    else
      zrem(assigned_key(node), id)
    end
  end
end
local ids = redis.call('ZRANGEBYSCORE', K_LEASED, '-inf', NOWS, 'LIMIT', 0, limit - #out)
for k, id in ipairs(ids) do
  local t = load(id)
  if t and t.status == 'IN_PROGRESS' then
    -- A different jitter for each task, spread evenly (golden ratio steps).
    local j = (jitter + (k - 1) * 0.6180339887498949) % 1
    local msg = 'attempt ' .. t.attempt .. ' timed out: no result from node ' .. t.node .. ' before its lease ran out'
    out[#out + 1] = fail_attempt(t, msg, false, true, false, { disabled = disabled, base = base, max = max, jitter = j })
  else
    zrem(K_LEASED, id)
  end
end
return out
