-- lib.lua begins the store's Redis Functions library (see
-- redis_scripts.go): every transition is one function of it, so that every
-- transition maintains the indexes and records its events the same way.
-- The library is loaded once (FUNCTION LOAD); its top level defines the
-- helpers and runs no command. What one call works with (its KEYS and
-- ARGV, the time, the events and changes it gathers) is in the locals
-- below, which begin_call (at the end of limit_lib.lua) sets anew at the
-- start of every call: nothing of one call is left for the next.
--
-- KEYS are the same for every script: the fixed keys of one cluster, all
-- under the hash tag {archivist:<cluster>} (one Redis Cluster slot):
--   KEYS[1]  all       ZSET  task id -> Seq (ListTasks, newest first)
--   KEYS[2]  ready     ZSET  PENDING task id -> (3-rank)*2^50 + Turn (ties:
--                            by id, which starts with the creation time)
--   KEYS[3]  retrying  ZSET  RETRYING task id -> RunAt (unix µs)
--   KEYS[4]  leased    ZSET  IN_PROGRESS task id -> LeaseUntil (µs)
--   KEYS[5]  counts    HASH  finished status -> number of tasks (the others are
--                            counted by their indexes: see CountTasks)
--   KEYS[6]  loads     HASH  node id -> its ASSIGNED and IN_PROGRESS tasks
--   KEYS[7]  taskseq   STRING the last task Seq
--   KEYS[8]  eventseq  STRING the last event Seq
--   KEYS[9]  events    STREAM one entry per script call, id "<Seq of its last event>-0"
--   KEYS[10] leader    HASH  holder, token, expires (µs); token only grows
--   KEYS[11] nodes     HASH  node id -> node JSON as Go encodes it
--   KEYS[12] draining  SET   ids of draining nodes
--   KEYS[13] config    HASH  json, version, updated (µs)
--   KEYS[14] scheduled ZSET  SCHEDULED task id -> RunAt (unix µs)
--   KEYS[15] unique    HASH  unique key -> id of the newest task that took it
--                            (it holds the key while unfinished, and for its
--                            unique-for after it finished: see unique_holder)
--   KEYS[16] scheduled:seq ZSET SCHEDULED task id -> Seq (ListTasks by status)
--   KEYS[17] waiting   ZSET  WAITING task id (a workflow step) -> Seq
--   KEYS[18] workflows ZSET  workflow id -> its Seq (ListWorkflows, newest first)
--   KEYS[19] seq:workflow STRING the last workflow Seq
-- ARGV[1] is the key prefix "{archivist:<cluster>}:"; per-task keys
-- (<prefix>task:<id>, a HASH) and per-node keys (<prefix>assigned:<node>, a
-- ZSET of the node's ASSIGNED tasks by placement order) are built from it,
-- so they share the slot. ARGV[2] is about how many events the stream
-- keeps (older entries are trimmed by id, XADD MINID ~). A script's own
-- arguments start at ARGV[3].
--
-- A task HASH has two fields, each one MessagePack array (cmsgpack here,
-- redis_codec.go in Go), and the result when there is one:
--   i       [type, input, metadata] or [type, input, metadata, schedule],
--           or [type, input, metadata, schedule or '', group] for a task
--           of a group, written once by create (packed in Go)
--   m       the fields a transition decides on or changes, in the order of
--           the M_* positions below (absent values are '' or 0); then,
--           only when the task has them, its own retry backoff (two
--           fields) and its unique key and unique-for (two more, after the
--           backoff ones, which are then 0 if the task has none), and
--           then, only for a workflow step, its workflow id and step key
--           (M_WF, M_STEP; the four before are then 0 or ''), and then,
--           once the task was PENDING, its Turn (M_TURN; M_WF and
--           M_STEP are then false unless it is a step)
--   result  the result, as the worker gave it
-- so that a transition reads one field, changes a Lua table and writes one
-- field, and its event carries the task's full snapshot (id, i, m, result)
-- without re-reading or re-encoding anything. Input, result and metadata
-- are opaque strings: never decoded, so big numbers keep their digits.
--
-- Times are integer microseconds of the server clock (TIME), so that every
-- node agrees.
--
-- Every write command a script runs is also appended to the AOF (and sent
-- to replicas), which costs more than the command itself, whatever its
-- size. So a transition writes its task once (HSET m), the indexes are the
-- fewest that the reads need, and their changes are gathered per script
-- and written as one ZADD and one ZREM per index (see INDEX). A task is in
-- one index per status (ready; assigned:<node>; leased; retrying) and, from
-- creation to purge, in all. ASSIGNED tasks whose claim window ran out are
-- found through the assigned ZSETs of the nodes that hold tasks (loads),
-- the IN_PROGRESS tasks of one node through leased, finished tasks through
-- all (oldest first).
--
-- Events: a script appends its events to EVENTS; when it ends (see the
-- epilogue in redis_scripts.go) flush() gives them the next Seqs and writes
-- them as ONE stream entry, MessagePack [now, [event...]], whose id is the
-- Seq of its last event. A task event is ['T', type, detail, id, i, m,
-- result], a node event ['N', type, detail, id, node JSON or '', draining
-- '1'/'0'], a config event ['C', type, detail, config JSON, version], a
-- schedule event ['S', type, detail, name, definition JSON, packed state]
-- (see schedule.lua; '' and '' for schedule.deleted), a workflow event
-- ['W', type, detail, id, header, packed state, {step key, packed step,
-- ...}] (for workflow.created the workflow whole, as GetWorkflow reads it;
-- for workflow.updated header '' and only the steps that changed: see
-- Event.Workflow and Workflows below).
-- Counters (counts, loads) are summed per script and written once too.
--
-- Groups: the tasks of each named group (Task.Group) are counted by status
-- in the HASH <prefix>group:<name> (status -> number; a status at 0 is
-- removed), and the groups that have tasks are the SET <prefix>groups
-- (CountGroups reads them). Both keys are built from the prefix, so they
-- share the slot. A transition of a grouped task adds to GROUP_COUNTS,
-- written once per script by flush_groups; a task without a group costs
-- one byte check of its i (task_group).
--
-- Statistics (store/stats.go has the same rules): a script sums what it
-- records per dimension in STATS ('g' the cluster, 't:<type>', 'n:<node>',
-- 'g:<group>' for tasks with a group)
-- and flush_stats adds it to the fine bucket of NOW, the HASH
-- <prefix>stats:10:<bucket start, unix s>, one field per dimension holding
-- MessagePack [submitted, completed, failed, busy µs, worker µs, wait bins,
-- run bins, types, nodes, groups] (bins flat: bin, count, ...). 'g' holds,
-- as types, nodes and groups, how many distinct names the bucket counts; a
-- group's submissions are in its dimension (in the create script's one
-- HMGET and HSET, so an ungrouped submission does not pay for it); the cluster's
-- outcomes and latencies are the sum of its types' (redis_stats.go adds
-- them up), and its submissions a plain counter 's' (one HINCRBY in
-- create). One HMGET and one HSET
-- however many tasks the script ended, and an EXPIREAT when the bucket is
-- new. The first write of a fine bucket also rolls the fine buckets before
-- it up into the coarse ones (<prefix>stats:300:<start>, same layout), once
-- per 10 s for the whole cluster; a query of coarse buckets adds the fine
-- ones not rolled up yet (redis_stats.go). Beyond MAX_TYPES types,
-- MAX_NODES nodes or MAX_GROUPS groups a bucket counts the others under
-- OTHER.
--
-- Errors meant for clients are replies "<CODE> <message>" (CONFLICT,
-- NOT_FOUND), returned before the first write, so a refused transition
-- changes nothing (stale reports are the exception: they record an event).
--
-- A script's own file is the body of a function main; what main returns is
-- the script's reply {Seq of its last event ("0": none), main's result},
-- unless it is an error reply. A task snapshot in a reply is {id, i, m,
-- result}; the hot transitions (assign, claim, report) reply with their
-- packed events instead (see EVENTS_REPLY).

-- Set by lib_begin for each call.
local KEYS, ARGV
local P, KEEP
local K_ALL, K_READY, K_RETRYING, K_LEASED
local K_COUNTS, K_LOADS, K_TASKSEQ, K_EVENTSEQ, K_EVENTS
local K_LEADER, K_NODES, K_DRAINING, K_CONFIG
local K_SCHEDULED, K_UNIQUE, K_SCHEDSEQ
local K_WAITING, K_WORKFLOWS, K_WFSEQ

local MAX_REQUEUES = 10 -- archivist.MaxRequeues
local RANK_SPAN = 1125899906842624 -- 2^50
local RANK = { LOW = 0, NORMAL = 1, HIGH = 2, CRITICAL = 3 }
local TERMINAL = { COMPLETED = true, FAILED = true, CANCELLED = true, TIMED_OUT = true }

-- Positions in m (redis_codec.go has the same list).
local M_STATUS, M_ATTEMPT, M_FAILURES, M_REQUEUES, M_PROGRESS, M_PMSG, M_NODE, M_CANCEL = 1, 2, 3, 4, 5, 6, 7, 8
local M_CREATED, M_UPDATED, M_ASSIGNED, M_STARTED, M_COMPLETED, M_RUNAT, M_LEASE = 9, 10, 11, 12, 13, 14, 15
local M_ERROR, M_PRIO, M_SEQ, M_TIMEOUT, M_MAXR = 16, 17, 18, 19, 20
local M_BACKOFF, M_MAXBACKOFF = 21, 22 -- absent: the cluster's
local M_UKEY, M_UFOR = 23, 24 -- absent: no unique key (unique-for in ns)
local M_WF, M_STEP = 25, 26 -- absent: not a workflow step
local M_TURN = 27 -- absent: never PENDING yet
-- Only in the m of a task that limits or pauses touched (limit_lib.lua):
-- the seven before are then 0, '' or false. M_HELD is Task.HeldBy; M_SLOTS
-- the key of the held set a held PENDING task is in, or the counter keys
-- (joined by newlines) a placed task took slots in.
local M_HELD, M_SLOTS = 28, 29
-- M_PAD is what m_pad puts in the optional positions a task lacks (false
-- for M_WF: a task is a step when m[M_WF] is true).
local M_PAD = { 0, 0, '', 0, false, false, 0, '', '' }
-- m_pad fills the optional positions of m before n that it lacks, so that
-- it stays an array.
local function m_pad(m, n)
  for k = M_BACKOFF, n - 1 do
    if m[k] == nil then m[k] = M_PAD[k - M_BACKOFF + 1] end
  end
end
-- FIELD maps the names a transition changes to positions; DEFAULT is what
-- a field set to false (cleared) becomes.
local FIELD = { status = M_STATUS, attempt = M_ATTEMPT, failures = M_FAILURES, requeues = M_REQUEUES,
  progress = M_PROGRESS, pmsg = M_PMSG, node = M_NODE, cancel = M_CANCEL, created = M_CREATED,
  updated = M_UPDATED, assigned = M_ASSIGNED, started = M_STARTED, completed = M_COMPLETED, runat = M_RUNAT,
  lease = M_LEASE, error = M_ERROR }
local DEFAULT = { [M_PMSG] = '', [M_NODE] = '', [M_ERROR] = '' }

local function istr(n) return string.format('%.0f', n) end

-- The server's time when the call began (µs), and as a string.
local NOW, NOWS

local function tkey(id) return P .. 'task:' .. id end
local function assigned_key(node) return P .. 'assigned:' .. node end
-- ready_score is the score of a PENDING task in ready (by its Turn), or of
-- an ASSIGNED one in assigned:<node> (by its Seq).
local function ready_score(prio, n) return istr((3 - (RANK[prio] or 1)) * RANK_SPAN + n) end

local function err(code, fmt, ...) return redis.error_reply(code .. ' ' .. string.format(fmt, ...)) end

local LAST_EVENT, EVENTS
-- A script whose reply is its events returns {EVENTS_REPLY, ...}: the
-- epilogue puts the packed events (BLOB, as written to the stream) in its
-- place, which Go decodes faster than Redis converts tables of tables.
local EVENTS_REPLY = {}
local BLOB
local COUNTS, LOADS
-- INDEX holds the index changes of the script, per ZSET: member -> score
-- to add, or false to remove (the last change of a member wins). They are
-- written by flush_index, one ZADD and one ZREM per ZSET however many
-- tasks moved: a write command costs the same for one member or many.
local INDEX, INDEX_KEYS

local function zchange(key, member, score)
  local ch = INDEX[key]
  if not ch then
    ch = {}
    INDEX[key] = ch
    INDEX_KEYS[#INDEX_KEYS + 1] = key
  end
  ch[member] = score
end
local function zadd(key, score, member) zchange(key, member, score) end
local function zrem(key, member) zchange(key, member, false) end

-- flush_index writes the pending index changes; a script that reads an
-- index it changed calls it first.
local function flush_index()
  for _, key in ipairs(INDEX_KEYS) do
    local add, rem = {}, {}
    for member, score in pairs(INDEX[key]) do
      if score then
        add[#add + 1] = score
        add[#add + 1] = member
      else
        rem[#rem + 1] = member
      end
      if #add >= 2000 then
        redis.call('ZADD', key, unpack(add))
        add = {}
      end
      if #rem >= 1000 then
        redis.call('ZREM', key, unpack(rem))
        rem = {}
      end
    end
    if #rem > 0 then redis.call('ZREM', key, unpack(rem)) end
    if #add > 0 then redis.call('ZADD', key, unpack(add)) end
  end
  INDEX, INDEX_KEYS = {}, {}
end

-- count counts finished tasks by status; the others are counted by the
-- cardinality of their index, which costs no write.
local function count(status, d)
  if TERMINAL[status] then COUNTS[status] = (COUNTS[status] or 0) + d end
end
local function add_load(node, d) LOADS[node] = (LOADS[node] or 0) + d end

-- mp_str reads the msgpack str at position pos of s (the formats
-- appendMsgpackRaw writes): the position of its first byte and its length,
-- or nil for another format.
local function mp_str(s, pos)
  local c = string.byte(s, pos)
  if not c then return nil end
  if c >= 0xa0 and c <= 0xbf then return pos + 1, c - 0xa0 end
  if c == 0xd9 then return pos + 2, string.byte(s, pos + 1) end
  if c == 0xda then
    local a, b = string.byte(s, pos + 1, pos + 2)
    return pos + 3, a * 256 + b
  end
  if c == 0xdb then
    local a, b, d, e = string.byte(s, pos + 1, pos + 4)
    return pos + 5, ((a * 256 + b) * 256 + d) * 256 + e
  end
  return nil
end

-- task_group is the task's group (Task.Group): the fifth item of its i,
-- when it has one (encodeTaskInfo: five items, or six with a trace), ''
-- when it has none. It steps over the four items before by their
-- lengths, so a grouped task's input is not decoded to find its group (m
-- is unused: the group is not in it).
local function task_group(m, i)
  if not i then return '' end
  local head = string.byte(i, 1)
  if head ~= 0x95 and head ~= 0x96 then return '' end
  local pos = 2
  for _ = 1, 4 do
    local at, n = mp_str(i, pos)
    if not at then return cmsgpack.unpack(i)[5] or '' end
    pos = at + n
  end
  local at, n = mp_str(i, pos)
  if not at then return cmsgpack.unpack(i)[5] or '' end
  return string.sub(i, at, at + n - 1)
end

-- GROUP_COUNTS: group -> status -> change, written by flush_groups.
local GROUP_COUNTS
local function count_group(g, status, d)
  local c = GROUP_COUNTS[g]
  if not c then
    c = {}
    GROUP_COUNTS[g] = c
  end
  c[status] = (c[status] or 0) + d
end

-- group_count counts a status change of a task of group g ('' none:
-- nothing to count).
local function group_count(g, from, to)
  if g == '' then return end
  if from then count_group(g, from, -1) end
  if to then count_group(g, to, 1) end
end

-- group_moved counts a status change of the task whose m and i are
-- given, when it has a group.
local function group_moved(m, i, from, to)
  group_count(task_group(m, i), from, to)
end

-- flush_groups writes GROUP_COUNTS: one HINCRBY per status that changed,
-- and the group joins (or leaves) <prefix>groups when its HASH is new (or
-- empty).
local function flush_groups()
  local groups = P .. 'groups'
  for g, c in pairs(GROUP_COUNTS) do
    local key = P .. 'group:' .. g
    local fresh = redis.call('EXISTS', key) == 0
    local dropped = false
    for st, d in pairs(c) do
      if d ~= 0 and redis.call('HINCRBY', key, st, d) <= 0 then
        redis.call('HDEL', key, st)
        dropped = true
      end
    end
    if dropped and redis.call('EXISTS', key) == 0 then
      redis.call('SREM', groups, g)
    elseif fresh and redis.call('EXISTS', key) == 1 then
      redis.call('SADD', groups, g)
    end
  end
  GROUP_COUNTS = {}
end

-- Statistics: see the header. The functions are made only by the scripts
-- that record statistics (stats()), so that the others do not pay for them
-- at every call.
local function make_stats()
  -- Statistics: see the header. STAT_TIERS are {resolution, kept after the
  -- bucket ends} in seconds (statTiers in store/stats.go).
  local STAT_TIERS = { { 10, 4200 }, { 300, 87000 } }
  -- archivist.MaxStatsTypes, MaxStatsNodes, MaxStatsGroups, StatsOther
  local MAX_TYPES, MAX_NODES, MAX_GROUPS, OTHER = 50, 100, 100, '(other)'
  local LOG2 = math.log(2)
  local STATS, STAT_FIELDS = nil, {}

  local function sdim(f)
    if not STATS then STATS = {} end
    local d = STATS[f]
    if not d then
      d = { 0, 0, 0, 0, 0, {}, {}, 0, 0, 0 }
      STATS[f] = d
      STAT_FIELDS[#STAT_FIELDS + 1] = f
    end
    return d
  end

  -- statBin in store/stats.go
  local function sbin(us)
    if us < 1 then return 0 end
    local b = 1 + math.floor(4 * math.log(us) / LOG2)
    if b > 160 then b = 160 end
    return b
  end

  -- Bins are kept flat, as stored: {bin, count, bin, count, ...} (a dozen
  -- pairs at most in practice, so a scan beats building a table).
  local function hinc(h, b, c)
    for j = 1, #h, 2 do
      if h[j] == b then
        h[j + 1] = h[j + 1] + c
        return
      end
    end
    h[#h + 1] = b
    h[#h + 1] = c
  end

  local function hadd(h, us) hinc(h, sbin(us), 1) end

  -- itype is the type of a task from its packed i ([type, input, metadata],
  -- as encodeTaskInfo writes it), without unpacking the input.
  local function itype(i)
    local c = string.byte(i, 2)
    if not c then return '' end
    if c >= 0xa0 and c <= 0xbf then return string.sub(i, 3, 2 + c - 0xa0) end
    if c == 0xda then
      local n = string.byte(i, 3) * 256 + string.byte(i, 4)
      return string.sub(i, 5, 4 + n)
    end
    return cmsgpack.unpack(i)[1] or ''
  end

  -- stat_end records an attempt that ended at NOW: busy time on its node,
  -- and for an outcome 'c' (COMPLETED) or 'f' (FAILED, TIMED_OUT) the count
  -- and latencies of the task, in its type's and its group's ('' none)
  -- dimensions; '' (retried, cancelled) only the busy time.
  local function stat_end(typ, group, node, created, started, outcome)
    local run = 0
    if started > 0 then run = NOW - started end
    if node ~= '' and started > 0 then
      local n = sdim('n:' .. node)
      n[4] = n[4] + run
      if outcome == 'c' then n[2] = n[2] + 1 elseif outcome == 'f' then n[3] = n[3] + 1 end
    end
    if outcome == '' then return end
    -- The cluster's outcomes are the sum of its types' (redis_stats.go adds
    -- them up), so that a script writes one dimension less.
    local k = outcome == 'c' and 2 or 3
    local t = sdim('t:' .. typ)
    t[k] = t[k] + 1
    local g = group ~= '' and sdim('g:' .. group)
    if g then g[k] = g[k] + 1 end
    if started > 0 then
      local wait = started - created
      hadd(t[6], wait)
      hadd(t[7], run)
      if g then
        hadd(g[6], wait)
        hadd(g[7], run)
      end
    end
  end

  local function stat_task_end(t, outcome)
    -- A task submitted to run later waits from its due time (kept in
    -- runat once it is PENDING: see ready.lua).
    stat_end(itype(t.i), task_group(t.m, t.i), t.m[M_NODE] or '', math.max(t.m[M_CREATED] or 0, t.m[M_RUNAT] or 0), t.m[M_STARTED] or 0, outcome)
  end

  local function unpack_dim(v)
    if not v then return nil end
    local d = cmsgpack.unpack(v)
    for k = 1, 10 do
      if d[k] == nil then d[k] = (k == 6 or k == 7) and {} or 0 end
    end
    return d
  end

  local function pack_dim(d) return cmsgpack.pack(d) end

  local function add_dim(d, delta)
    for k = 1, 5 do d[k] = d[k] + delta[k] end
    for k = 6, 7 do
      local h = delta[k]
      for j = 1, #h, 2 do hinc(d[k], h[j], h[j + 1]) end
    end
  end

  -- merge_stats adds deltas (field -> dim; its fields listed in order) to the
  -- bucket HASH key, applying the bounds on names, with one HMGET and one
  -- HSET, and sets the key's expiry when it is new. Returns whether it was.
  local function merge_stats(key, expire_at, deltas, order)
    local fields = { 'g' }
    for _, f in ipairs(order) do
      if f ~= 'g' then fields[#fields + 1] = f end
    end
    local cur = redis.call('HMGET', key, unpack(fields))
    local fresh = not cur[1]
    local g = unpack_dim(cur[1]) or { 0, 0, 0, 0, 0, {}, {}, 0, 0, 0 }
    -- g is written when new, or when it counts a new name.
    local dims = {}
    if fresh or deltas.g then dims.g = g end
    for j = 2, #fields do
      local f = fields[j]
      local d = dims[f] or unpack_dim(cur[j])
      if not d then
        local kind = string.sub(f, 1, 2)
        local name = string.sub(f, 3)
        local pos, max = 8, MAX_TYPES
        if kind == 'n:' then
          pos, max = 9, MAX_NODES
        elseif kind == 'g:' then
          pos, max = 10, MAX_GROUPS
        end
        if name ~= OTHER and g[pos] >= max then
          f = kind .. OTHER
          d = dims[f] or unpack_dim(redis.call('HGET', key, f))
        elseif name ~= OTHER then
          g[pos] = g[pos] + 1
          dims.g = g
        end
        d = d or dims[f] or { 0, 0, 0, 0, 0, {}, {}, 0, 0, 0 }
      end
      add_dim(d, deltas[fields[j]])
      dims[f] = d
    end
    if deltas.g then add_dim(g, deltas.g) end
    local hset = {}
    for f, d in pairs(dims) do
      hset[#hset + 1] = f
      hset[#hset + 1] = pack_dim(d)
    end
    redis.call('HSET', key, unpack(hset))
    if fresh then redis.call('EXPIREAT', key, expire_at) end
    return fresh
  end

  -- rollup adds the fine buckets that ended since the last rollup (<prefix>
  -- stats:rolled, the start of the last one rolled up) to their coarse
  -- buckets, when the fine bucket current starts: once per fine bucket for
  -- the whole cluster, so that the hot path writes one bucket, not two.
  local function rollup(current)
    local fine, coarse = STAT_TIERS[1], STAT_TIERS[2]
    local rk = P .. 'stats:rolled'
    local last = tonumber(redis.call('GET', rk) or '') or (current - 2 * fine[1])
    for b = math.max(last + fine[1], current - fine[2]), current - fine[1], fine[1] do
      local h = redis.call('HGETALL', P .. 'stats:' .. fine[1] .. ':' .. b)
      if #h > 0 then
        local deltas, order, submitted = {}, {}, 0
        for j = 1, #h, 2 do
          if h[j] == 's' then
            submitted = tonumber(h[j + 1])
          else
            deltas[h[j]] = unpack_dim(h[j + 1])
            order[#order + 1] = h[j]
          end
        end
        local cs = b - b % coarse[1]
        local ck = P .. 'stats:' .. coarse[1] .. ':' .. cs
        merge_stats(ck, cs + coarse[1] + coarse[2], deltas, order)
        if submitted > 0 then redis.call('HINCRBY', ck, 's', submitted) end
      end
    end
    redis.call('SET', rk, current - fine[1])
  end

  -- flush_stats adds what the script recorded to the fine bucket of NOW (and
  -- rolls the earlier ones up when it is new).
  local function flush_stats()
    if not STATS then return end
    local sec = math.floor(NOW / 1000000)
    local res, keep = STAT_TIERS[1][1], STAT_TIERS[1][2]
    local start = sec - sec % res
    if merge_stats(P .. 'stats:' .. res .. ':' .. start, start + res + keep, STATS, STAT_FIELDS) then
      rollup(start)
    end
  end

  -- fresh_bucket sets the expiry of a fine bucket that submissions started
  -- (stat_submitted) and rolls up the earlier ones.
  local function fresh_bucket(key, start)
    redis.call('EXPIREAT', key, start + STAT_TIERS[1][1] + STAT_TIERS[1][2])
    rollup(start)
  end

  return { sdim = sdim, itype = itype, stat_end = stat_end, stat_task_end = stat_task_end, flush = flush_stats,
    fresh_bucket = fresh_bucket }
end

local STATS_LIB
local function stats()
  if not STATS_LIB then STATS_LIB = make_stats() end
  return STATS_LIB
end

-- stat_submitted counts n submissions in the field s of the fine bucket of
-- NOW, a plain counter: one HINCRBY (and, when it starts the bucket, the
-- expiry and the rollup).
local function stat_submitted(n)
  local sec = math.floor(NOW / 1000000)
  local start = sec - sec % 10
  local key = P .. 'stats:10:' .. start
  if redis.call('HINCRBY', key, 's', n) == n and redis.call('TTL', key) < 0 then
    stats().fresh_bucket(key, start)
  end
end

-- stat_group_submitted counts n submissions of group g ('' none: nothing)
-- in its dimension, written with the script's other statistics.
local function stat_group_submitted(g, n)
  if g == nil or g == '' then return end
  local d = stats().sdim('g:' .. g)
  d[1] = d[1] + n
end

-- Fair share (archivist.Task.Turn; store/engine_fair.go does the same):
-- the HASH <prefix>fair holds per priority rank r the highest Turn placed
-- so far ('v:<r>') and the last Turn given to each group ('l:<r>:<group>').
-- A task that becomes PENDING for the first time takes max(v, l) + 1. A
-- script reads the fields it needs once (fair_need: one HMGET, for all the
-- tasks of a batch when it calls it first with all of them) and writes
-- those it changed once, in flush. Fields l no greater than v mean nothing
-- and are dropped by purge.
local K_FAIR
local FAIR, FAIR_SET

-- fair_need reads the fields of list that the script has not read yet.
local function fair_need(list)
  local miss, seen = {}, {}
  for _, f in ipairs(list) do
    if FAIR[f] == nil and not seen[f] then
      seen[f] = true
      miss[#miss + 1] = f
    end
  end
  -- In chunks: unpack takes a few thousand values at most.
  for a = 1, #miss, 1000 do
    local b = math.min(a + 999, #miss)
    local v = redis.call('HMGET', K_FAIR, unpack(miss, a, b))
    for k = a, b do FAIR[miss[k]] = tonumber(v[k - a + 1]) or 0 end
  end
end

local function fair_set(f, v)
  FAIR[f] = v
  if not FAIR_SET then FAIR_SET = {} end
  FAIR_SET[f] = true
end

local function fair_fields(prio, group)
  local r = RANK[prio] or 1
  return 'v:' .. r, 'l:' .. r .. ':' .. group
end

-- fair_turn gives the next Turn of group at priority prio.
local function fair_turn(prio, group)
  local vf, lf = fair_fields(prio, group)
  fair_need({ vf, lf })
  local turn = math.max(FAIR[vf], FAIR[lf]) + 1
  fair_set(lf, turn)
  return turn
end

-- fair_placed notes that a task of priority prio with Turn turn was placed
-- (the first call reads the four ranks at once).
local function fair_placed(prio, turn)
  local vf = 'v:' .. (RANK[prio] or 1)
  if FAIR[vf] == nil then fair_need({ 'v:0', 'v:1', 'v:2', 'v:3' }) end
  if (turn or 0) > FAIR[vf] then fair_set(vf, turn) end
end

-- fair_prune drops the fields l that are no greater than v at their rank.
local function fair_prune()
  local h = redis.call('HGETALL', K_FAIR)
  local v, drop = {}, {}
  for k = 1, #h, 2 do
    local r = string.match(h[k], '^v:(%d)$')
    if r then v[r] = tonumber(h[k + 1]) end
  end
  for k = 1, #h, 2 do
    local r = string.match(h[k], '^l:(%d):')
    if r and tonumber(h[k + 1]) <= (v[r] or 0) then drop[#drop + 1] = h[k] end
  end
  for k = 1, #drop, 1000 do
    redis.call('HDEL', K_FAIR, unpack(drop, k, math.min(k + 999, #drop)))
  end
end

local function flush_fair()
  if not FAIR_SET then return end
  local hs = {}
  for f in pairs(FAIR_SET) do
    hs[#hs + 1] = f
    hs[#hs + 1] = istr(FAIR[f])
    if #hs >= 2000 then
      redis.call('HSET', K_FAIR, unpack(hs))
      hs = {}
    end
  end
  if #hs > 0 then redis.call('HSET', K_FAIR, unpack(hs)) end
  FAIR_SET = nil
end

-- flush writes what the script summed up: the counters, and its events as
-- one stream entry.
local function flush()
  flush_index()
  flush_fair()
  if STATS_LIB then STATS_LIB.flush() end
  for st, d in pairs(COUNTS) do
    if d ~= 0 then redis.call('HINCRBY', K_COUNTS, st, d) end
  end
  for node, d in pairs(LOADS) do
    if d ~= 0 and redis.call('HINCRBY', K_LOADS, node, d) <= 0 then redis.call('HDEL', K_LOADS, node) end
  end
  flush_groups()
  local n = #EVENTS
  if n > 0 then
    local last = redis.call('INCRBY', K_EVENTSEQ, n)
    LAST_EVENT = last
    BLOB = cmsgpack.pack({ NOW, EVENTS })
    redis.call('XADD', K_EVENTS, 'MINID', '~', istr(math.max(0, last - KEEP)), istr(last) .. '-0', 'e', BLOB)
  end
end

-- load reads what transitions decide on; nil when the task does not exist.
-- t.m is the unpacked m, t.i the packed i, t.packed the packed m (kept
-- current by move).
local function load(id)
  local v = redis.call('HMGET', tkey(id), 'm', 'i')
  if not v[1] then return nil end
  local m = cmsgpack.unpack(v[1])
  return {
    id = id, m = m, i = v[2] or '', packed = v[1],
    status = m[M_STATUS], attempt = m[M_ATTEMPT], node = m[M_NODE], seq = m[M_SEQ], prio = m[M_PRIO],
    timeout = m[M_TIMEOUT], failures = m[M_FAILURES], maxr = m[M_MAXR], requeues = m[M_REQUEUES],
    cancel = m[M_CANCEL] == 1,
  }
end

-- snapshot is t as a reply: {id, i, m, result}. A COMPLETED task's result
-- is read unless given.
local function snapshot(t, result)
  if not result then
    result = ''
    if t.m[M_STATUS] == 'COMPLETED' then result = redis.call('HGET', tkey(t.id), 'result') or '' end
  end
  return { t.id, t.i, t.packed, result }
end

-- task_event records an event with the task's snapshot and returns the
-- snapshot.
local function task_event(t, typ, detail, result)
  local s = snapshot(t, result)
  EVENTS[#EVENTS + 1] = { 'T', typ, detail or '', s[1], s[2], s[3], s[4] }
  return s
end

-- event_of records a task event from its parts and returns its position
-- in EVENTS (the hot transitions reply with their events: see
-- EVENTS_REPLY).
local function event_of(typ, detail, id, i, packed, result)
  EVENTS[#EVENTS + 1] = { 'T', typ, detail, id, i, packed, result }
  return #EVENTS
end

-- WF_ENDED lists the workflow steps whose task a script ended, in order:
-- {workflow id, step key, status, error}. wf_flush (in the epilogue, or
-- called by the workflow scripts before they reply) applies
-- Workflow.StepEnded for each. A task that is no step costs move one
-- field check (M_WF) and nothing else.
local WF_ENDED
local function step_ended(m, status)
  WF_ENDED[#WF_ENDED + 1] = { m[M_WF], m[M_STEP], status, m[M_ERROR] or '' }
end

local function unindex(t)
  local st, id = t.status, t.id
  count(st, -1)
  if st == 'PENDING' then
    zrem(K_READY, id)
  elseif st == 'RETRYING' then
    zrem(K_RETRYING, id)
  elseif st == 'SCHEDULED' then
    zrem(K_SCHEDULED, id)
    zrem(K_SCHEDSEQ, id)
  elseif st == 'WAITING' then
    zrem(K_WAITING, id)
  elseif st == 'ASSIGNED' then
    zrem(assigned_key(t.node), id)
    add_load(t.node, -1)
  elseif st == 'IN_PROGRESS' then
    zrem(K_LEASED, id)
    add_load(t.node, -1)
  end
end

local function index(t)
  local st, id = t.status, t.id
  count(st, 1)
  if st == 'PENDING' then
    zadd(K_READY, ready_score(t.prio, t.turn), id)
  elseif st == 'RETRYING' then
    zadd(K_RETRYING, istr(t.runat), id)
  elseif st == 'SCHEDULED' then
    zadd(K_SCHEDULED, istr(t.runat), id)
    zadd(K_SCHEDSEQ, istr(t.seq), id)
  elseif st == 'WAITING' then
    zadd(K_WAITING, istr(t.seq), id)
  elseif st == 'ASSIGNED' then
    zadd(assigned_key(t.node), ready_score(t.prio, t.seq), id)
    add_load(t.node, 1)
  elseif st == 'IN_PROGRESS' then
    zadd(K_LEASED, istr(t.lease), id)
    add_load(t.node, 1)
  end
end

-- move applies changes (field name -> value; false clears the field) to
-- task t, stamps updated, writes m (and result, when given), and moves the
-- task between the indexes when its status changes.
local flow_left -- limit_lib.lua

local function move(t, ch, result)
  ch.updated = NOW
  local m = t.m
  for k, v in pairs(ch) do
    local f = FIELD[k]
    if v == false then v = DEFAULT[f] or 0 end
    m[f] = v
  end
  -- A held task or one holding slots leaves them (a plain task pays this
  -- one check).
  if m[M_SLOTS] and m[M_SLOTS] ~= '' and ch.status and ch.status ~= t.status then
    flow_left(t.id, m, t.status, ch.status)
  end
  if ch.status == 'PENDING' and (m[M_TURN] or 0) == 0 then
    m_pad(m, M_TURN)
    m[M_TURN] = fair_turn(m[M_PRIO], task_group(m, t.i))
  end
  t.packed = cmsgpack.pack(m)
  if result then
    redis.call('HSET', tkey(t.id), 'm', t.packed, 'result', result)
  else
    redis.call('HSET', tkey(t.id), 'm', t.packed)
  end
  local old = t.status
  t.attempt, t.failures, t.requeues, t.cancel = m[M_ATTEMPT], m[M_FAILURES], m[M_REQUEUES], m[M_CANCEL] == 1
  if not ch.status or ch.status == old then return end
  group_moved(m, t.i, old, ch.status)
  if m[M_WF] and TERMINAL[ch.status] and not TERMINAL[old] then step_ended(m, ch.status) end
  local node = ch.node or t.node
  if old == 'ASSIGNED' and ch.status == 'IN_PROGRESS' and node == t.node then
    -- A claim: the node keeps holding the task, only its lease changes.
    zrem(assigned_key(node), t.id)
    zadd(K_LEASED, istr(m[M_LEASE]), t.id)
    t.status = 'IN_PROGRESS'
    return
  end
  unindex(t)
  t.status, t.node = ch.status, node
  index({ id = t.id, status = ch.status, node = node, seq = t.seq, prio = t.prio,
    runat = m[M_RUNAT], lease = m[M_LEASE], turn = m[M_TURN] })
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

-- task_backoff is archivist.RetryPolicy.ForTask: the base and max of the
-- cluster's policy r with task t's own values in their place.
local function task_backoff(t, r)
  local base, max = r.base, r.max
  local tb, tm = t.m[M_BACKOFF] or 0, t.m[M_MAXBACKOFF] or 0
  if tb > 0 and tm > 0 then
    base, max = tb, tm
  elseif tb > 0 then
    base = tb
    if max < tb then max = tb end
  elseif tm > 0 then
    if base <= 0 or base > tm then base = tm end
    max = tm
  end
  return base, max
end

-- fail_attempt ends the running attempt of t as failed (r: the retry
-- policy {disabled, base, max, jitter}, the cluster's: t's own backoff, if
-- it has one, wins) and returns the snapshot.
local function fail_attempt(t, msg, permanent, timed_out, cancelled, r)
  local ch = { error = msg ~= '' and msg or false, lease = false }
  local failures = t.failures + 1
  local typ
  local outcome = ''
  if cancelled or t.cancel then
    ch.status, ch.completed, typ = 'CANCELLED', NOW, 'task.cancelled'
  elseif not permanent and not r.disabled and failures <= t.maxr then
    ch.status, ch.failures, typ = 'RETRYING', failures, 'task.retrying'
    local base, max = task_backoff(t, r)
    ch.runat = NOW + math.floor(backoff(failures, base, max, r.jitter) / 1000)
  elseif timed_out then
    ch.status, ch.failures, ch.completed, typ, outcome = 'TIMED_OUT', failures, NOW, 'task.timed_out', 'f'
  else
    ch.status, ch.failures, ch.completed, typ, outcome = 'FAILED', failures, NOW, 'task.failed', 'f'
  end
  stats().stat_task_end(t, outcome)
  move(t, ch)
  return task_event(t, typ, msg, '')
end

-- requeue puts a task that lost its node back to PENDING, or fails it once
-- it lost too many.
local function requeue(t, why)
  if t.cancel then
    return fail_attempt(t, why, false, false, true, nil)
  end
  if t.requeues + 1 > MAX_REQUEUES then
    local msg = why .. '; given up after ' .. MAX_REQUEUES .. ' requeues'
    local S = stats()
    S.stat_end(S.itype(t.i), task_group(t.m, t.i), '', t.m[M_CREATED] or 0, 0, 'f')
    move(t, { status = 'FAILED', error = msg, completed = NOW, lease = false })
    return task_event(t, 'task.failed', msg, '')
  end
  move(t, { status = 'PENDING', requeues = t.requeues + 1, lease = false, progress = false, pmsg = false })
  return task_event(t, 'task.requeued', why, '')
end

-- start begins a new attempt of t on node with a lease of its timeout plus
-- grace (µs).
local function start(t, node, grace)
  if t.status == 'PENDING' then fair_placed(t.prio, t.m[M_TURN]) end
  move(t, { status = 'IN_PROGRESS', node = node, attempt = t.attempt + 1, started = NOW,
    progress = false, pmsg = false, lease = NOW + math.floor(t.timeout / 1000) + grace })
  return task_event(t, 'task.started', '', '')
end

-- stale_attempt returns the CONFLICT message for a report of attempt when
-- it is not the running one, or nil when it is.
local function stale_attempt(t, attempt)
  if t.status == 'IN_PROGRESS' and t.attempt == attempt then return nil end
  return string.format('stale attempt %d of task %s: the task is %s at attempt %d', attempt, t.id, t.status, t.attempt)
end

-- cancel_task cancels unfinished task t: one that has not started is
-- CANCELLED (detail says why), an IN_PROGRESS one is asked to stop, once.
-- Returns the snapshot.
local function cancel_task(t, detail)
  if t.status == 'IN_PROGRESS' then
    if t.cancel then return snapshot(t, '') end
    move(t, { cancel = 1 })
    return task_event(t, 'task.cancel_requested', '', '')
  end
  move(t, { status = 'CANCELLED', completed = NOW, lease = false, runat = false })
  return task_event(t, 'task.cancelled', detail, '')
end

-- unique_holder returns the task (loaded) that holds unique key key, or
-- nil: the newest task that took it, while it is unfinished and for its
-- unique-for after it finished.
local function unique_holder(key)
  local id = redis.call('HGET', K_UNIQUE, key)
  if not id then return nil end
  local t = load(id)
  if not t then return nil end
  if not TERMINAL[t.status] then return t end
  local ufor = t.m[M_UFOR] or 0
  if ufor > 0 and NOW < (t.m[M_COMPLETED] or 0) + math.floor(ufor / 1000) then return t end
  return nil
end

-- create_task stores one new task (the caller has resolved its unique
-- key: see submit) with Seq seq and records task.created. c holds what
-- create.lua's ARGV give per task: id, i, prio, timeout (ns), maxr,
-- backoff, maxbackoff (ns, 0: the cluster's), runat (µs, 0: none), delay
-- (µs), ukey ('' : none), ufor (ns); for a workflow step also wf and
-- step (its workflow id and key) and waiting (true: it is WAITING), and
-- group ('' or nil: none). It is SCHEDULED when its run time (now + delay,
-- or runat) is after now, else PENDING (with its Turn). Returns its
-- status, run time (0 when PENDING) and Turn (0 unless PENDING).
local function create_task(c, seq)
  local runat = c.runat
  if c.delay > 0 then runat = NOW + c.delay end
  local status = 'PENDING'
  if runat > NOW then status = 'SCHEDULED' else runat = 0 end
  if c.waiting then status, runat = 'WAITING', 0 end
  local fields = { status, 0, 0, 0, 0, '', '', 0, NOW, NOW, 0, 0, 0, runat, 0, '',
    c.prio, seq, c.timeout, c.maxr }
  if c.backoff ~= 0 or c.maxbackoff ~= 0 or c.ukey ~= '' or c.wf then
    fields[M_BACKOFF], fields[M_MAXBACKOFF] = c.backoff, c.maxbackoff
  end
  if c.ukey ~= '' then
    fields[M_UKEY], fields[M_UFOR] = c.ukey, c.ufor
    redis.call('HSET', K_UNIQUE, c.ukey, c.id)
  elseif c.wf then
    fields[M_UKEY], fields[M_UFOR] = '', 0
  end
  if c.wf then fields[M_WF], fields[M_STEP] = c.wf, c.step end
  local turn = 0
  if status == 'PENDING' then
    turn = fair_turn(c.prio, c.group or '')
    m_pad(fields, M_TURN)
    fields[M_TURN] = turn
  end
  group_count(c.group or '', nil, status)
  local m = cmsgpack.pack(fields)
  redis.call('HSET', tkey(c.id), 'i', c.i, 'm', m)
  zadd(K_ALL, istr(seq), c.id)
  if status == 'PENDING' then
    zadd(K_READY, ready_score(c.prio, turn), c.id)
  elseif status == 'WAITING' then
    zadd(K_WAITING, istr(seq), c.id)
  else
    zadd(K_SCHEDULED, istr(runat), c.id)
    zadd(K_SCHEDSEQ, istr(seq), c.id)
  end
  EVENTS[#EVENTS + 1] = { 'T', 'task.created', '', c.id, c.i, m, '' }
  return status, runat, turn
end

-- create_args reads the 13 ARGV of one task from position a (see
-- create.lua) into the table create_task takes; ondup is 'R' for REPLACE.
local function create_args(a)
  return { id = ARGV[a], i = ARGV[a + 1], prio = ARGV[a + 2], timeout = tonumber(ARGV[a + 3]),
    maxr = tonumber(ARGV[a + 4]), backoff = tonumber(ARGV[a + 5]), maxbackoff = tonumber(ARGV[a + 6]),
    runat = tonumber(ARGV[a + 7]), delay = tonumber(ARGV[a + 8]), ukey = ARGV[a + 9],
    ufor = tonumber(ARGV[a + 10]), replace = ARGV[a + 11] == 'R', group = ARGV[a + 12] }
end
local CREATE_ARGS = 13

-- submit creates one task as CreateTasks does, taking its Seq from the
-- task counter (a batch takes its Seqs at once instead: create.lua):
-- with a unique key held by another task it creates nothing and returns
-- nil and the holder (RETURN_EXISTING), or cancels an unfinished holder
-- first (REPLACE). Returns the id of the task created, or nil, and the
-- holder.
local function submit(c)
  if c.ukey ~= '' then
    local holder = unique_holder(c.ukey)
    if holder then
      if not c.replace then return nil, holder end
      if not TERMINAL[holder.status] then
        cancel_task(holder, 'replaced by a newer task with the same unique key')
      end
    end
  end
  create_task(c, redis.call('INCR', K_TASKSEQ))
  stat_submitted(1)
  stat_group_submitted(c.group, 1)
  return c.id, nil
end

local function node_event(typ, id, detail)
  local json = redis.call('HGET', K_NODES, id) or ''
  local dr = '0'
  if json ~= '' then dr = tostring(redis.call('SISMEMBER', K_DRAINING, id)) end
  EVENTS[#EVENTS + 1] = { 'N', typ, detail or '', id, json, dr }
end

-- Workflows (rediskeys.go lists their keys). A workflow is the HASH
-- <prefix>wf:<id>:
--   h        MessagePack [name, metadata, onFailure], packed in Go and never
--            decoded here (metadata is the caller's JSON, kept as given)
--   s        its state, MessagePack [status, error, created, updated,
--            completed (µs, 0: none), Seq, onFailure, steps so far]
--   s:<key>  one per step, MessagePack [position (1-based, the order of
--            submission), status, task id, the key of the step that added
--            it ('' for a submitted step), the keys it depends on...]
-- so that a step that ends rewrites its own field and those of the steps
-- it changes (released, or depending on added steps), not the whole
-- workflow. Its steps' tasks carry its id and their key in m (M_WF,
-- M_STEP); its WAITING steps' tasks are indexed by Seq in K_WAITING.
-- A script loads a workflow at most once (wf_get, with all of its steps:
-- at most archivist.MaxWorkflowSteps), changes it in Lua, and writes what
-- changed and records the workflow whole (workflow.updated, or
-- workflow.created) once, in wf_flush.
--
-- The rules are archivist.Workflow's (workflow.go): wf_step_ended mirrors
-- StepEnded (and settle), workflow.lua mirrors Cancel, Retry and AddSteps.
-- Change them together.

local WFS, WF_TOUCHED

local function wf_key(id) return P .. 'wf:' .. id end

local function contains(list, x)
  for _, v in ipairs(list) do
    if v == x then return true end
  end
  return false
end

-- wf_get loads workflow id, once per script; nil when there is none.
local function wf_get(id)
  local w = WFS[id]
  if w ~= nil then return w or nil end
  local h = redis.call('HGETALL', wf_key(id))
  if #h == 0 then
    WFS[id] = false
    return nil
  end
  w = { id = id, steps = {}, order = {}, dirty = {} }
  for j = 1, #h, 2 do
    local f, v = h[j], h[j + 1]
    if f == 'h' then
      w.header = v
    elseif f == 's' then
      w.packed = v
      w.status, w.error, w.created, w.updated, w.completed, w.seq, w.policy, w.n = unpack(cmsgpack.unpack(v))
    elseif string.sub(f, 1, 2) == 's:' then
      local sv = cmsgpack.unpack(v)
      local st = { key = string.sub(f, 3), idx = sv[1], status = sv[2], task = sv[3], by = sv[4], deps = {}, packed = v }
      for k = 5, #sv do st.deps[#st.deps + 1] = sv[k] end
      w.steps[st.key] = st
      w.order[st.idx] = st
    end
  end
  -- Positions run from 1 to the number of steps; close any gap all the
  -- same, keeping their order.
  local n = 0
  for _ in pairs(w.order) do n = n + 1 end
  if n ~= #w.order then
    local order = {}
    for _, st in pairs(w.order) do order[#order + 1] = st end
    table.sort(order, function(a, b) return a.idx < b.idx end)
    w.order = order
  end
  WFS[id] = w
  return w
end

-- wf_touch notes that w changed: wf_flush writes and records it.
local function wf_touch(w)
  if not w.touched then
    w.touched = true
    WF_TOUCHED[#WF_TOUCHED + 1] = w
  end
end

-- wf_dirty notes that step s of w changed.
local function wf_dirty(w, s)
  w.dirty[s.key] = s
  wf_touch(w)
end

-- wf_ready is Workflow.ready: every dependency of s completed.
local function wf_ready(w, s)
  for _, d in ipairs(s.deps) do
    local p = w.steps[d]
    if not p or p.status ~= 'COMPLETED' then return false end
  end
  return true
end

local function step_error(key, status, msg)
  if msg == '' then return string.format('step %s ended %s', key, status) end
  return string.format('step %s ended %s: %s', key, status, msg)
end

-- wf_settle is Workflow.settle: it ends a workflow whose steps all ended.
local function wf_settle(w, key, status, msg)
  for _, s in ipairs(w.order) do
    if not TERMINAL[s.status] then return end
  end
  if w.status == 'RUNNING' then
    w.status = 'COMPLETED'
    for _, s in ipairs(w.order) do
      if s.status ~= 'COMPLETED' then
        w.status = 'FAILED'
        if w.error == '' then w.error = step_error(s.key, s.status, '') end
        break
      end
    end
  end
  if w.error == '' and w.status == 'FAILED' then w.error = step_error(key, status, msg) end
  w.completed = NOW
end

-- wf_step_ended is Workflow.StepEnded: step key's task ended in status
-- with error msg. It returns the steps to release and to cancel, and the
-- reason; nil when the step is unknown or had ended.
local function wf_step_ended(w, key, status, msg)
  local s = w.steps[key]
  if not s or TERMINAL[s.status] or not TERMINAL[status] then return nil end
  s.status = status
  wf_dirty(w, s)
  w.updated = NOW
  local release, cancel, reason = {}, {}, ''
  if w.status ~= 'RUNNING' then
    -- nothing more: the workflow ended already
  elseif status == 'COMPLETED' then
    for _, c in ipairs(w.order) do
      if c.status == 'WAITING' and contains(c.deps, key) and wf_ready(w, c) then
        c.status = 'PENDING'
        wf_dirty(w, c)
        release[#release + 1] = c.key
      end
    end
  elseif w.policy == 'CONTINUE' then
    reason = string.format('step %s ended %s', key, status)
    for _, c in ipairs(w.order) do
      if c.status == 'WAITING' and contains(c.deps, key) then cancel[#cancel + 1] = c.key end
    end
  else
    w.status = 'FAILED'
    w.error = step_error(key, status, msg)
    reason = string.format('workflow failed: step %s ended %s', key, status)
    for _, c in ipairs(w.order) do
      if c.status == 'WAITING' or c.status == 'PENDING' then cancel[#cancel + 1] = c.key end
    end
  end
  wf_settle(w, key, status, msg)
  return release, cancel, reason
end

-- wf_steps is the steps of w as events and replies carry them: {key,
-- packed step, ...} in order.
local function wf_steps(w)
  local out = {}
  for _, s in ipairs(w.order) do
    out[#out + 1] = s.key
    out[#out + 1] = s.packed
  end
  return out
end

-- wf_save writes what changed in w (its state and dirty steps) and
-- records event typ with the workflow.
local function wf_save(w, typ)
  w.packed = cmsgpack.pack({ w.status, w.error, w.created, w.updated, w.completed, w.seq, w.policy, w.n })
  local hs = { 's', w.packed }
  local changed = {}
  for key, s in pairs(w.dirty) do
    local v = { s.idx, s.status, s.task, s.by or '' }
    for _, d in ipairs(s.deps) do v[#v + 1] = d end
    s.packed = cmsgpack.pack(v)
    hs[#hs + 1] = 's:' .. key
    hs[#hs + 1] = s.packed
    changed[#changed + 1] = s
  end
  redis.call('HSET', wf_key(w.id), unpack(hs))
  w.dirty = {}
  if typ == 'workflow.created' then
    EVENTS[#EVENTS + 1] = { 'W', typ, '', w.id, w.header, w.packed, wf_steps(w) }
    return
  end
  -- An update (Event.Workflow): the state and the steps that changed, in
  -- order, without the header, so that its size does not grow with the
  -- workflow's.
  table.sort(changed, function(a, b) return a.idx < b.idx end)
  local steps = {}
  for _, s in ipairs(changed) do
    steps[#steps + 1] = s.key
    steps[#steps + 1] = s.packed
  end
  EVENTS[#EVENTS + 1] = { 'W', typ, '', w.id, '', w.packed, steps }
end

-- wf_reply is w as a script replies with it: {id, header, state, steps}.
local function wf_reply(w) return { w.id, w.header, w.packed, wf_steps(w) } end

-- wf_flush applies StepEnded for every step whose task the script ended
-- (WF_ENDED, also those it ends meanwhile): it releases the steps to
-- release (task.released) and cancels those to cancel, each with the
-- reason (a task already running is left to finish: FAIL_FAST cancels
-- only the steps not started). A released step waits to be placed from
-- now: its runat is now, as a SCHEDULED task's once due (Task.ReadySince). Then it writes and records each workflow
-- that changed. The epilogue calls it; a script that replies with a
-- workflow calls it first.
local function wf_flush()
  local k = 1
  while k <= #WF_ENDED do
    local e = WF_ENDED[k]
    k = k + 1
    local w = wf_get(e[1])
    if w then
      local release, cancel, reason = wf_step_ended(w, e[2], e[3], e[4])
      if release then
        for _, key in ipairs(release) do
          local t = load(w.steps[key].task)
          if t and t.status == 'WAITING' then
            -- It waits to be placed from now (Task.ReadySince).
            move(t, { status = 'PENDING', runat = NOW })
            task_event(t, 'task.released', '', '')
          end
        end
        for _, key in ipairs(cancel) do
          local t = load(w.steps[key].task)
          if t and not TERMINAL[t.status] and t.status ~= 'IN_PROGRESS' then cancel_task(t, reason) end
        end
      end
    end
  end
  WF_ENDED = {}
  for _, w in ipairs(WF_TOUCHED) do
    wf_save(w, w.event or 'workflow.updated')
    w.touched, w.event = false, nil
  end
  WF_TOUCHED = {}
end

-- lib_begin sets what one call of any function works with (limit_lib.lua
-- adds its own: begin_call).
local function lib_begin(keys, args)
  KEYS, ARGV = keys, args
  P, KEEP = ARGV[1], tonumber(ARGV[2])
  K_ALL, K_READY, K_RETRYING, K_LEASED = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
  K_COUNTS, K_LOADS, K_TASKSEQ, K_EVENTSEQ, K_EVENTS = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
  K_LEADER, K_NODES, K_DRAINING, K_CONFIG = KEYS[10], KEYS[11], KEYS[12], KEYS[13]
  K_SCHEDULED, K_UNIQUE, K_SCHEDSEQ = KEYS[14], KEYS[15], KEYS[16]
  K_WAITING, K_WORKFLOWS, K_WFSEQ = KEYS[17], KEYS[18], KEYS[19]
  local t = redis.call('TIME')
  NOW = tonumber(t[1]) * 1000000 + tonumber(t[2])
  NOWS = istr(NOW)
  LAST_EVENT, EVENTS, BLOB = 0, {}, ''
  COUNTS, LOADS, INDEX, INDEX_KEYS, GROUP_COUNTS = {}, {}, {}, {}, {}
  STATS_LIB = nil
  K_FAIR, FAIR, FAIR_SET = P .. 'fair', {}, nil
  WF_ENDED, WFS, WF_TOUCHED = {}, {}, {}
end

-- (end of lib.lua)
