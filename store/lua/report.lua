-- report records the outcomes of running attempts, many per call (the
-- store gathers concurrent CompleteTask and FailTask calls). ARGV[3] is the
-- number of reports; each is a kind and its arguments:
--   'c', task id, attempt, result ('' for none)
--       the attempt succeeded: COMPLETED with the result;
--   'f', task id, attempt, error, permanent, timed out, cancelled, retry
--       disabled (each '1' or '0'), backoff base (ns), backoff max (ns),
--       jitter fraction in [0, 1)
--       the attempt failed: RETRYING after a backoff, or FAILED, TIMED_OUT
--       or CANCELLED.
-- A report of an attempt that is not the running one is refused and
-- recorded as task.stale_report. Returns {its events (packed, see
-- EVENTS_REPLY), answers}: each report gets its own answer, in order: {0,
-- position of its event}, {3, snapshot} (a failure), or {1, message} for
-- CONFLICT, {2, message} for NOT_FOUND.
local out = {}
local a = 4

-- complete is the hot path: COMPLETED as move would make it, on m in place.
local function complete(key, id, i, m, result)
  local S, g = stats(), task_group(m, i)
  S.stat_end(S.itype(i), g, m[M_NODE], math.max(m[M_CREATED], m[M_RUNAT] or 0), m[M_STARTED], 'c')
  m[M_STATUS], m[M_ERROR], m[M_PROGRESS], m[M_COMPLETED], m[M_LEASE], m[M_UPDATED] = 'COMPLETED', '', 1, NOW, 0, NOW
  if m[M_SLOTS] and m[M_SLOTS] ~= '' then slots_free(m) end
  local packed = cmsgpack.pack(m)
  if result ~= '' then
    redis.call('HSET', key, 'm', packed, 'result', result)
  else
    redis.call('HSET', key, 'm', packed)
  end
  zrem(K_LEASED, id)
  add_load(m[M_NODE], -1)
  count('COMPLETED', 1)
  group_count(g, 'IN_PROGRESS', 'COMPLETED')
  if m[M_WF] then step_ended(m, 'COMPLETED') end
  return event_of('task.completed', '', id, i, packed, result)
end

for r = 1, tonumber(ARGV[3]) do
  local kind, id, attempt = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  local key = tkey(id)
  local v = redis.call('HMGET', key, 'm', 'i')
  local m = v[1] and cmsgpack.unpack(v[1])
  if not m then
    out[r] = { 2, string.format('task "%s" not found', id) }
  elseif m[M_STATUS] ~= 'IN_PROGRESS' or m[M_ATTEMPT] ~= attempt then
    local t = load(id)
    local what = kind == 'c' and 'result' or 'failure'
    local stale = stale_attempt(t, attempt)
    task_event(t, 'task.stale_report', 'rejected ' .. what .. ' of attempt ' .. attempt .. ': ' .. stale)
    out[r] = { 1, stale }
  elseif kind == 'c' then
    out[r] = { 0, complete(key, id, v[2] or '', m, ARGV[a + 3]) }
  else
    out[r] = { 3, fail_attempt(load(id), ARGV[a + 3], ARGV[a + 4] == '1', ARGV[a + 5] == '1', ARGV[a + 6] == '1',
      { disabled = ARGV[a + 7] == '1', base = tonumber(ARGV[a + 8]), max = tonumber(ARGV[a + 9]),
        jitter = tonumber(ARGV[a + 10]) }) }
  end
  a = a + (kind == 'c' and 4 or 11)
end
return { EVENTS_REPLY, out }
