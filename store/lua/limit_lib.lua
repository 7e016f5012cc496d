-- limit_lib.lua follows lib.lua in every script: limits and paused task
-- types (see Store.SetLimit). Its keys are built from the prefix, so they
-- share the cluster's slot:
--   <P>limits         HASH limit id -> definition JSON (redisLimitDef)
--   <P>limits:times   HASH limit id -> "created,updated" (µs)
--   <P>limits:running HASH counter key (Limit.Key) -> slots in use
--   <P>limits:tokens  HASH counter key -> "tokens,at (µs)": a rate limit's bucket
--   <P>limits:held    HASH hold key -> limit id ('' for a paused type): the held sets not empty
--   <P>held:<hold key> ZSET held PENDING task id -> ready score
--   <P>limits:heldall ZSET every held task id -> ready score (ListTasks and
--                          CountTasks of PENDING tasks read it with ready)
--   <P>paused         SET  paused task types
-- A hold key is a counter key, or 'paused:' .. type (a limit id starts
-- with 'type=' or 'group=').
--
-- A task placed under limits records the counter keys it took slots in
-- (M_SLOTS), so move (flow_left) and the hot paths give each back once
-- when it stops running, and the first task each key holds becomes
-- placeable (task.unheld; ReadyTasks holds it again if it still does not
-- fit). A task held back is out of the ready ZSET, in its held set
-- (M_HELD says why, M_SLOTS which set). Nothing here runs for a task
-- that no limit or pause touched, and a script reads the limits only
-- when some exist (flow()).
local K_LIMITS, K_LTIMES, K_LRUN, K_LTOK -- set by begin_call
local K_LHELD, K_PAUSED, K_HELDALL
local MAX_HOLD = 1000 -- maxHoldPerCall (engine_limit.go)

local function held_key(hk) return P .. 'held:' .. hk end

-- ensure_flow extends m to M_SLOTS with the defaults of the fields
-- before.
local function ensure_flow(m)
  if #m >= M_SLOTS then return end
  local d = { [M_BACKOFF] = 0, [M_MAXBACKOFF] = 0, [M_UKEY] = '', [M_UFOR] = 0, [M_WF] = false, [M_STEP] = false,
    [M_TURN] = 0, [M_HELD] = '', [M_SLOTS] = '' }
  for p = #m + 1, M_SLOTS do m[p] = d[p] end
end

local function held_remove(id, hk)
  local k = held_key(hk)
  redis.call('ZREM', k, id)
  redis.call('ZREM', K_HELDALL, id)
  if redis.call('ZCARD', k) == 0 then redis.call('HDEL', K_LHELD, hk) end
end

-- unhold makes held task id (m, i) placeable again.
local function unhold(id, m, i)
  local by, hk = m[M_HELD], m[M_SLOTS]
  m[M_HELD], m[M_SLOTS], m[M_UPDATED] = '', '', NOW
  local packed = cmsgpack.pack(m)
  redis.call('HSET', tkey(id), 'm', packed)
  held_remove(id, hk)
  zadd(K_READY, ready_score(m[M_PRIO], m[M_TURN] or 0), id)
  event_of('task.unheld', by, id, i, packed, '')
end

-- hold holds PENDING task id (m, i) back: by is its HeldBy, hk the held
-- set, lid the limit ('' for a paused type).
local function hold(id, m, i, by, hk, lid)
  if m[M_HELD] and m[M_HELD] ~= '' then
    held_remove(id, m[M_SLOTS])
  else
    zrem(K_READY, id)
  end
  ensure_flow(m)
  m[M_HELD], m[M_SLOTS], m[M_UPDATED] = by, hk, NOW
  local packed = cmsgpack.pack(m)
  redis.call('HSET', tkey(id), 'm', packed)
  local score = ready_score(m[M_PRIO], m[M_TURN] or 0)
  redis.call('ZADD', held_key(hk), score, id)
  redis.call('ZADD', K_HELDALL, score, id)
  redis.call('HSET', K_LHELD, hk, lid)
  event_of('task.held', by, id, i, packed, '')
end

-- flow returns the limits and paused types, read once per script, or
-- false when there are none.
local FLOW
local function flow()
  if FLOW ~= nil then return FLOW end
  if redis.call('EXISTS', K_LIMITS, K_PAUSED, K_LHELD) == 0 then
    FLOW = false
    return FLOW
  end
  local F = { byType = {}, limits = {}, paused = {}, running = {}, buckets = {} }
  local h = redis.call('HGETALL', K_LIMITS)
  for j = 1, #h, 2 do
    local l = cjson.decode(h[j + 1])
    F.limits[l.ID] = l
    local list = F.byType[l.TaskType]
    if not list then
      list = {}
      F.byType[l.TaskType] = list
    end
    list[#list + 1] = l
  end
  for _, list in pairs(F.byType) do table.sort(list, function(a, b) return a.ID < b.ID end) end
  for _, typ in ipairs(redis.call('SMEMBERS', K_PAUSED)) do F.paused[typ] = true end
  FLOW = F
  return F
end

local function applies(l, typ, group)
  if l.TaskType ~= '' and l.TaskType ~= typ then return false end
  return l.Group == '' or l.Group == '*' or l.Group == group
end

local function limit_key(l, group)
  if l.Group == '*' then return l.ID .. '|' .. group end
  return l.ID
end

-- each_limit calls fn(l, key) for every limit that applies to a task of
-- typ in group, until fn returns true.
local function each_limit(F, typ, group, fn)
  local lists = { F.byType[typ] or {}, typ ~= '' and F.byType[''] or {} }
  for _, list in ipairs(lists) do
    for _, l in ipairs(list) do
      if applies(l, typ, group) and fn(l, limit_key(l, group)) then return end
    end
  end
end

local function running(F, key)
  local n = F.running[key]
  if n == nil then
    n = tonumber(redis.call('HGET', K_LRUN, key) or '0') or 0
    F.running[key] = n
  end
  return n
end

-- tokens is how many tokens the bucket of rate limit l under key holds
-- now (a bucket not used yet is full).
local function tokens(F, l, key)
  local b = F.buckets[key]
  if b == nil then
    local v = redis.call('HGET', K_LTOK, key)
    if v then
      local tk, at = string.match(v, '^([^,]+),(.+)$')
      b = { tonumber(tk), tonumber(at) }
    else
      b = false
    end
    F.buckets[key] = b
  end
  if not b then return l.Burst end
  return math.min(l.Burst, b[1] + l.RatePerSecond * math.max(0, NOW - b[2]) / 1000000)
end

-- blocker returns what holds a task of typ in group back now (its
-- HeldBy, the limit id or '', the hold key), or nil when it may be placed;
-- tent counts the slots and tokens that tasks chosen earlier take.
local function blocker(F, typ, group, tent)
  if F.paused[typ] then return 'paused', '', 'paused:' .. typ end
  local by, lid, hk
  each_limit(F, typ, group, function(l, key)
    local used = tent[key] or 0
    if (l.MaxConcurrent > 0 and running(F, key) + used >= l.MaxConcurrent) or
        (l.RatePerSecond > 0 and tokens(F, l, key) - used < 1) then
      by, lid, hk = 'limit ' .. l.ID, l.ID, key
      return true
    end
    return false
  end)
  return by, lid, hk
end

local function tentative(F, typ, group, tent)
  each_limit(F, typ, group, function(_, key)
    tent[key] = (tent[key] or 0) + 1
    return false
  end)
end

-- take_slots places task id (m, i; the caller writes m): it leaves its
-- held set if it was in one, takes a slot (and a token) of every limit
-- that applies, and records the counter keys in m.
local function take_slots(F, id, m, i)
  if m[M_HELD] and m[M_HELD] ~= '' then
    held_remove(id, m[M_SLOTS])
    m[M_HELD], m[M_SLOTS] = '', ''
  end
  local keys = {}
  each_limit(F, stats().itype(i), task_group(m, i), function(l, key)
    if l.RatePerSecond > 0 then
      local left = tokens(F, l, key) - 1
      redis.call('HSET', K_LTOK, key, string.format('%.6f', left) .. ',' .. NOWS)
      F.buckets[key] = { left, NOW }
    end
    F.running[key] = running(F, key) + 1
    redis.call('HINCRBY', K_LRUN, key, 1)
    keys[#keys + 1] = key
    return false
  end)
  if #keys > 0 then
    ensure_flow(m)
    m[M_SLOTS] = table.concat(keys, '\n')
  end
end

-- release makes up to n tasks of held set hk placeable, first first, as
-- long as they fit (given tent, which it counts them in); a task another
-- limit holds back now moves to that limit's set. Returns how many became
-- placeable.
local function release(F, hk, tent, n)
  local done, moved = 0, 0
  while done < n and moved < MAX_HOLD do
    local id = redis.call('ZRANGE', held_key(hk), 0, 0)[1]
    if not id then break end
    local v = redis.call('HMGET', tkey(id), 'm', 'i')
    if not v[1] then
      held_remove(id, hk)
    else
      local m, i = cmsgpack.unpack(v[1]), v[2] or ''
      local typ, group = stats().itype(i), task_group(m, i)
      local by, lid, nhk = blocker(F, typ, group, tent)
      if by and by == m[M_HELD] then break end
      if by then
        hold(id, m, i, by, nhk, lid)
        moved = moved + 1
      else
        unhold(id, m, i)
        tentative(F, typ, group, tent)
        done = done + 1
      end
    end
  end
  return done
end

-- slots_free gives back the slots placed task m took and makes the first
-- task each of their keys holds placeable, if it fits now.
local function slots_free(m)
  local s = m[M_SLOTS]
  m[M_SLOTS] = ''
  local F = flow()
  for key in string.gmatch(s, '[^\n]+') do
    local n = redis.call('HINCRBY', K_LRUN, key, -1)
    if n <= 0 then
      redis.call('HDEL', K_LRUN, key)
      n = 0
    end
    -- With no limit left nothing is held (DeleteLimit released them).
    if F then
      F.running[key] = n
      release(F, key, {}, 1)
    end
  end
end

flow_left = function(id, m, old, new)
  if old == 'PENDING' then
    if m[M_HELD] ~= '' then
      held_remove(id, m[M_SLOTS])
      m[M_HELD], m[M_SLOTS] = '', ''
    end
  elseif (old == 'ASSIGNED' or old == 'IN_PROGRESS') and new ~= 'ASSIGNED' and new ~= 'IN_PROGRESS' then
    slots_free(m)
  end
end

-- release_some makes up to MAX_HOLD tasks of held set hk placeable,
-- whatever holds them: the tasks of a limit removed or a type resumed are
-- released in bounded steps, the first at once and the others by the
-- ReadyTasks calls that follow (ready_limited), so that a large held
-- backlog does not make one long script. Returns how many it released.
local function release_some(hk)
  local ids = redis.call('ZRANGE', held_key(hk), 0, MAX_HOLD - 1)
  for _, id in ipairs(ids) do
    local v = redis.call('HMGET', tkey(id), 'm', 'i')
    if v[1] then
      unhold(id, cmsgpack.unpack(v[1]), v[2] or '')
    else
      held_remove(id, hk)
    end
  end
  return #ids
end

-- held_sets returns the hold keys of limit lid (nil: of every limit, not
-- the paused types).
local function held_sets(lid)
  local out = {}
  local h = redis.call('HGETALL', K_LHELD)
  for j = 1, #h, 2 do
    if (lid == nil and h[j + 1] ~= '') or h[j + 1] == lid then out[#out + 1] = h[j] end
  end
  table.sort(out)
  return out
end

-- ready_limited is ReadyTasks under limits or pauses (see engine_limit.go
-- readyLimited): snapshots of up to limit tasks that fit, in order.
local function ready_limited(F, limit)
  for pass = 1, 2 do
    local out, taken, tent, holds = {}, {}, {}, 0
    while #out < limit and holds < MAX_HOLD do
      flush_index()
      local ids = redis.call('ZRANGE', K_READY, 0, limit - 1)
      local fresh = false
      for _, id in ipairs(ids) do
        if not taken[id] then
          fresh = true
          local v = redis.call('HMGET', tkey(id), 'm', 'i')
          if not v[1] then
            zrem(K_READY, id)
          else
            local m, i = cmsgpack.unpack(v[1]), v[2] or ''
            local typ, group = stats().itype(i), task_group(m, i)
            local by, lid, hk = blocker(F, typ, group, tent)
            if by then
              hold(id, m, i, by, hk, lid)
              holds = holds + 1
            else
              tentative(F, typ, group, tent)
              taken[id] = true
              out[#out + 1] = { id, i, v[1], '' }
            end
          end
        end
      end
      if not fresh or #ids < limit then break end
    end
    -- Then the held tasks of limits with room left, and some of those that
    -- nothing holds any more (a limit removed, a type resumed).
    local freed = 0
    local h = redis.call('HGETALL', K_LHELD)
    for j = 1, #h, 2 do
      local hk, lid = h[j], h[j + 1]
      if (lid == '' and not F.paused[string.sub(hk, 8)]) or (lid ~= '' and not F.limits[lid]) then
        freed = freed + release_some(hk)
      elseif lid ~= '' then
        freed = freed + release(F, hk, tent, MAX_HOLD)
      end
    end
    if freed == 0 or #out >= limit or pass == 2 then
      flush_index()
      return out
    end
  end
end

-- next_token is how long (µs) until a rate limit that holds tasks back,
-- and has room for them otherwise, has a token; nil when none does.
local function next_token(F)
  local best
  local h = redis.call('HGETALL', K_LHELD)
  for j = 1, #h, 2 do
    local hk, l = h[j], F.limits[h[j + 1]]
    if l and l.RatePerSecond > 0 and not (l.MaxConcurrent > 0 and running(F, hk) >= l.MaxConcurrent) then
      local w = 0
      local tk = tokens(F, l, hk)
      if tk < 1 then w = math.ceil((1 - tk) / l.RatePerSecond * 1000000) end
      if not best or w < best then best = w end
    end
  end
  return best
end

-- begin_call sets what one call works with: lib.lua's (lib_begin) and the
-- keys and state here.
local function begin_call(keys, args)
  lib_begin(keys, args)
  K_LIMITS, K_LTIMES, K_LRUN, K_LTOK = P .. 'limits', P .. 'limits:times', P .. 'limits:running', P .. 'limits:tokens'
  K_LHELD, K_PAUSED, K_HELDALL = P .. 'limits:held', P .. 'paused', P .. 'limits:heldall'
  FLOW = nil
end
