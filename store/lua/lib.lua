-- lib.lua is prepended to every script of the Redis store (see
-- redis_scripts.go), so that every transition maintains the indexes and
-- records its events the same way.
--
-- KEYS are the same for every script: the fixed keys of one cluster, all
-- under the hash tag {archivist:<cluster>} (one Redis Cluster slot):
--   KEYS[1]  all       ZSET  task id -> Seq (ListTasks, newest first)
--   KEYS[2]  ready     ZSET  PENDING task id -> (3-rank)*2^50 + Seq
--   KEYS[3]  retrying  ZSET  RETRYING task id -> RunAt (unix µs)
--   KEYS[4]  leased    ZSET  ASSIGNED and IN_PROGRESS task id -> LeaseUntil (µs)
--   KEYS[5]  finished  ZSET  finished task id -> CompletedAt (µs)
--   KEYS[6]  counts    HASH  status -> number of tasks
--   KEYS[7]  loads     HASH  node id -> its ASSIGNED and IN_PROGRESS tasks
--   KEYS[8]  taskseq   STRING the last task Seq
--   KEYS[9]  eventseq  STRING the last event Seq
--   KEYS[10] events    STREAM entry id "<event Seq>-0"
--   KEYS[11] leader    HASH  holder, token, expires (µs); token only grows
--   KEYS[12] nodes     HASH  node id -> node JSON as Go encodes it
--   KEYS[13] draining  SET   ids of draining nodes
--   KEYS[14] config    HASH  json, version, updated (µs)
-- ARGV[1] is the key prefix "{archivist:<cluster>}:"; per-task keys
-- (<prefix>task:<id>, a HASH) and per-node keys (<prefix>assigned:<node>, a
-- ZSET of ASSIGNED tasks by placement order; <prefix>held:<node>, a ZSET of
-- ASSIGNED and IN_PROGRESS tasks by Seq) are built from it, so they share
-- the slot. ARGV[2] is the approximate MAXLEN of the stream. A script's own
-- arguments start at ARGV[3].
--
-- Times are integer microseconds of the server clock (TIME), so that every
-- node agrees. Task inputs, results and metadata are opaque strings here:
-- never decoded, so big numbers keep their digits.
--
-- Errors meant for clients are replies "<CODE> <message>" (CONFLICT,
-- NOT_FOUND), returned before the first write, so a refused transition
-- changes nothing (stale reports are the exception: they record an event).
--
-- A script's own file is the body of a function main; what main returns is
-- the script's reply {Seq of its last event ("0": none), main's result},
-- unless it is an error reply (see redis_scripts.go).

local P = ARGV[1]
local MAXLEN = ARGV[2]
local K_ALL, K_READY, K_RETRYING, K_LEASED, K_FINISHED = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local K_COUNTS, K_LOADS, K_TASKSEQ, K_EVENTSEQ, K_EVENTS = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local K_LEADER, K_NODES, K_DRAINING, K_CONFIG = KEYS[11], KEYS[12], KEYS[13], KEYS[14]

local MAX_REQUEUES = 10 -- archivist.MaxRequeues
local RANK_SPAN = 1125899906842624 -- 2^50
local RANK = { LOW = 0, NORMAL = 1, HIGH = 2, CRITICAL = 3 }
local TERMINAL = { COMPLETED = true, FAILED = true, CANCELLED = true, TIMED_OUT = true }

local function istr(n) return string.format('%.0f', n) end

local NOW
do
  local t = redis.call('TIME')
  NOW = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local NOWS = istr(NOW)

local function tkey(id) return P .. 'task:' .. id end
local function assigned_key(node) return P .. 'assigned:' .. node end
local function held_key(node) return P .. 'held:' .. node end
local function ready_score(prio, seq) return (3 - (RANK[prio] or 1)) * RANK_SPAN + seq end

local function err(code, fmt, ...) return redis.error_reply(code .. ' ' .. string.format(fmt, ...)) end

local LAST_EVENT = 0

-- emit appends one event with the next event Seq; fields is a flat list.
local function emit(fields)
  local seq = redis.call('INCR', K_EVENTSEQ)
  LAST_EVENT = seq
  redis.call('XADD', K_EVENTS, 'MAXLEN', '~', MAXLEN, istr(seq) .. '-0', unpack(fields))
end

-- task_event records an event with the task's snapshot (every field of its
-- hash, plus the reserved _k, _t, _ts, _d) and returns the snapshot: the
-- Go side decodes both with one decoder, which skips the reserved fields.
local function task_event(id, typ, detail)
  local f = redis.call('HGETALL', tkey(id))
  local n = #f
  f[n + 1], f[n + 2], f[n + 3], f[n + 4], f[n + 5], f[n + 6] = '_k', 'T', '_t', typ, '_ts', NOWS
  if detail and detail ~= '' then f[n + 7], f[n + 8] = '_d', detail end
  emit(f)
  return f
end

-- load reads what transitions decide on; nil when the task does not exist.
local function load(id)
  local v = redis.call('HMGET', tkey(id), 'status', 'attempt', 'node', 'seq', 'prio', 'timeout',
    'failures', 'maxr', 'requeues', 'cancel')
  if not v[1] then return nil end
  return {
    id = id, status = v[1], attempt = tonumber(v[2]) or 0, node = v[3] or '', seq = tonumber(v[4]) or 0,
    prio = v[5] or 'NORMAL', timeout = tonumber(v[6]) or 0, failures = tonumber(v[7]) or 0,
    maxr = tonumber(v[8]) or 0, requeues = tonumber(v[9]) or 0, cancel = v[10] == '1',
  }
end

local function unindex(t)
  local st, id = t.status, t.id
  redis.call('HINCRBY', K_COUNTS, st, -1)
  if st == 'PENDING' then
    redis.call('ZREM', K_READY, id)
  elseif st == 'RETRYING' then
    redis.call('ZREM', K_RETRYING, id)
  elseif st == 'ASSIGNED' or st == 'IN_PROGRESS' then
    redis.call('ZREM', K_LEASED, id)
    if st == 'ASSIGNED' then redis.call('ZREM', assigned_key(t.node), id) end
    redis.call('ZREM', held_key(t.node), id)
    if redis.call('HINCRBY', K_LOADS, t.node, -1) <= 0 then redis.call('HDEL', K_LOADS, t.node) end
  elseif TERMINAL[st] then
    redis.call('ZREM', K_FINISHED, id)
  end
end

local function index(t)
  local st, id = t.status, t.id
  redis.call('HINCRBY', K_COUNTS, st, 1)
  if st == 'PENDING' then
    redis.call('ZADD', K_READY, istr(ready_score(t.prio, t.seq)), id)
  elseif st == 'RETRYING' then
    redis.call('ZADD', K_RETRYING, istr(t.runat), id)
  elseif st == 'ASSIGNED' or st == 'IN_PROGRESS' then
    redis.call('ZADD', K_LEASED, istr(t.lease), id)
    if st == 'ASSIGNED' then redis.call('ZADD', assigned_key(t.node), istr(ready_score(t.prio, t.seq)), id) end
    redis.call('ZADD', held_key(t.node), istr(t.seq), id)
    redis.call('HINCRBY', K_LOADS, t.node, 1)
  elseif TERMINAL[st] then
    redis.call('ZADD', K_FINISHED, istr(t.completed), id)
  end
end

-- move applies changes (field -> string or integer; false deletes the
-- field) to task t, stamps updated, and moves it between the indexes when
-- its status changes.
local function move(t, ch)
  ch.updated = NOW
  local set, del = {}, {}
  for k, v in pairs(ch) do
    if v == false then
      del[#del + 1] = k
    else
      set[#set + 1] = k
      set[#set + 1] = type(v) == 'number' and istr(v) or v
    end
  end
  local key = tkey(t.id)
  redis.call('HSET', key, unpack(set))
  if #del > 0 then redis.call('HDEL', key, unpack(del)) end
  if not ch.status or ch.status == t.status then return end
  local node = ch.node or t.node
  if t.status == 'ASSIGNED' and ch.status == 'IN_PROGRESS' and node == t.node then
    -- A claim: the node keeps holding the task, only its lease changes.
    redis.call('HINCRBY', K_COUNTS, 'ASSIGNED', -1)
    redis.call('HINCRBY', K_COUNTS, 'IN_PROGRESS', 1)
    redis.call('ZREM', assigned_key(node), t.id)
    redis.call('ZADD', K_LEASED, istr(ch.lease), t.id)
    return
  end
  unindex(t)
  index({ id = t.id, status = ch.status, node = node, seq = t.seq, prio = t.prio,
    runat = ch.runat, lease = ch.lease, completed = ch.completed })
end

-- check_lease refuses (returns an error reply) unless holder still holds
-- the leadership with token at the server's now.
local function check_lease(holder, token)
  local l = redis.call('HMGET', K_LEADER, 'holder', 'token', 'expires')
  if token == '0' or l[1] ~= holder or l[2] ~= token or NOW >= (tonumber(l[3]) or 0) then
    return err('CONFLICT', 'leadership token %s of "%s" is no longer current', token, holder)
  end
  return nil
end

-- backoff is archivist.Backoff(n, base, max) in nanoseconds, with the
-- jitter fraction j in [0, 1) chosen by the caller.
local function backoff(n, base, max, j)
  if base <= 0 then base = 1000000000 end
  if max < base then max = base end
  local d, i = base, 1
  while i < n and d < max do
    d, i = d * 2, i + 1
  end
  if d > max then d = max end
  local half = math.floor(d / 2)
  return half + math.floor(j * (half + 1))
end

-- fail_attempt ends the running attempt of t as failed (r: the retry
-- policy {disabled, base, max, jitter}) and returns the snapshot.
local function fail_attempt(t, msg, permanent, timed_out, cancelled, r)
  local ch = { error = msg ~= '' and msg or false, lease = false }
  local failures = t.failures + 1
  local typ
  if cancelled or t.cancel then
    ch.status, ch.completed, typ = 'CANCELLED', NOW, 'task.cancelled'
  elseif not permanent and not r.disabled and failures <= t.maxr then
    ch.status, ch.failures, typ = 'RETRYING', failures, 'task.retrying'
    ch.runat = NOW + math.floor(backoff(failures, r.base, r.max, r.jitter) / 1000)
  elseif timed_out then
    ch.status, ch.failures, ch.completed, typ = 'TIMED_OUT', failures, NOW, 'task.timed_out'
  else
    ch.status, ch.failures, ch.completed, typ = 'FAILED', failures, NOW, 'task.failed'
  end
  move(t, ch)
  return task_event(t.id, typ, msg)
end

-- requeue puts a task that lost its node back to PENDING, or fails it once
-- it lost too many.
local function requeue(t, why)
  if t.cancel then
    return fail_attempt(t, why, false, false, true, nil)
  end
  if t.requeues + 1 > MAX_REQUEUES then
    local msg = why .. '; given up after ' .. MAX_REQUEUES .. ' requeues'
    move(t, { status = 'FAILED', error = msg, completed = NOW, lease = false })
    return task_event(t.id, 'task.failed', msg)
  end
  move(t, { status = 'PENDING', requeues = t.requeues + 1, lease = false, progress = false, pmsg = false })
  return task_event(t.id, 'task.requeued', why)
end

-- start begins a new attempt of t on node with a lease of its timeout plus
-- grace (µs).
local function start(t, node, grace)
  move(t, { status = 'IN_PROGRESS', node = node, attempt = t.attempt + 1, started = NOW,
    progress = false, pmsg = false, lease = NOW + math.floor(t.timeout / 1000) + grace })
  return task_event(t.id, 'task.started', '')
end

-- stale_attempt returns the CONFLICT message for a report of attempt when
-- it is not the running one, or nil when it is.
local function stale_attempt(t, attempt)
  if t.status == 'IN_PROGRESS' and t.attempt == attempt then return nil end
  return string.format('stale attempt %d of task %s: the task is %s at attempt %d', attempt, t.id, t.status, t.attempt)
end

-- node_fields are the event fields describing node id.
local function node_fields(id)
  local json = redis.call('HGET', K_NODES, id)
  if not json then return { '_nid', id } end
  return { '_n', json, '_dr', tostring(redis.call('SISMEMBER', K_DRAINING, id)) }
end

local function node_event(typ, id, detail)
  local f = node_fields(id)
  local n = #f
  f[n + 1], f[n + 2], f[n + 3], f[n + 4], f[n + 5], f[n + 6] = '_k', 'N', '_t', typ, '_ts', NOWS
  if detail and detail ~= '' then f[n + 7], f[n + 8] = '_d', detail end
  emit(f)
end

-- (end of lib.lua)
