-- recover takes back tasks whose lease ran out, if the leadership is still
-- current: ASSIGNED ones return to PENDING, IN_PROGRESS ones count as a
-- timed-out attempt.
-- ARGV[3] lease holder, ARGV[4] lease token, ARGV[5] retry disabled ("1"),
-- ARGV[6] backoff base (ns), ARGV[7] backoff max (ns), ARGV[8] jitter
-- fraction in [0, 1), ARGV[9] at most this many tasks per call.
-- Returns the snapshots of the tasks taken back.
local bad = check_lease(ARGV[3], ARGV[4])
if bad then return bad end
local disabled, base, max, jitter = ARGV[5] == '1', tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local out = {}
local ids = redis.call('ZRANGEBYSCORE', K_LEASED, '-inf', NOWS, 'LIMIT', 0, tonumber(ARGV[9]))
for i, id in ipairs(ids) do
  local t = load(id)
  if t and t.status == 'ASSIGNED' then
    move(t, { status = 'PENDING', lease = false })
    out[#out + 1] = task_event(id, 'task.requeued', 'node ' .. t.node .. ' did not start it in time')
  elseif t and t.status == 'IN_PROGRESS' then
    -- A different jitter for each task, spread evenly (golden ratio steps).
    local j = (jitter + (i - 1) * 0.6180339887498949) % 1
    local msg = 'attempt ' .. t.attempt .. ' timed out: no result from node ' .. t.node .. ' before its lease ran out'
    out[#out + 1] = fail_attempt(t, msg, false, true, false, { disabled = disabled, base = base, max = max, jitter = j })
  else
    redis.call('ZREM', K_LEASED, id)
  end
end
return out
