-- limit changes limits and paused task types (redis_limit.go); ARGV[3]
-- is the operation:
--   'set', id, definition JSON, MaxLimits: stores a limit (replacing the
--       one of its id, keeping its created time); a new one counts the
--       tasks running now (and records its key in their m, so that they
--       give the slot back); the tasks it holds that fit now become
--       placeable. Replies 'ok'.
--   'del', id: removes a limit and makes the tasks it holds placeable
--       (up to MAX_HOLD at once, the others at the next ReadyTasks calls:
--       release_some).
--   'pause', type, '1' or '0': pauses or resumes a task type; resuming
--       makes its held tasks placeable (as 'del' does). Replies '1' if
--       that changed anything, else '0'.
-- A paused type's tasks are held when ReadyTasks reaches them.
local op = ARGV[3]

local function matches(k, id) return k == id or string.sub(k, 1, #id + 1) == id .. '|' end

if op == 'set' then
  local id, def, max_limits = ARGV[4], ARGV[5], tonumber(ARGV[6])
  local existed = redis.call('HEXISTS', K_LIMITS, id) == 1
  if not existed and redis.call('HLEN', K_LIMITS) >= max_limits then
    return err('BAD_USER_INPUT', 'there are %d limits already, the most a cluster may have', max_limits)
  end
  local created = NOWS
  if existed then created = string.match(redis.call('HGET', K_LTIMES, id) or '', '^(%d+)') or NOWS end
  redis.call('HSET', K_LIMITS, id, def)
  redis.call('HSET', K_LTIMES, id, created .. ',' .. NOWS)
  local F = flow()
  local l = F.limits[id]
  if not existed then
    -- Count the tasks running now: IN_PROGRESS ones in leased, ASSIGNED
    -- ones in the assigned ZSETs of the nodes that hold tasks.
    local ids = redis.call('ZRANGE', K_LEASED, 0, -1)
    for _, node in ipairs(redis.call('HKEYS', K_LOADS)) do
      for _, tid in ipairs(redis.call('ZRANGE', assigned_key(node), 0, -1)) do ids[#ids + 1] = tid end
    end
    for _, tid in ipairs(ids) do
      local v = redis.call('HMGET', tkey(tid), 'm', 'i')
      local m = v[1] and cmsgpack.unpack(v[1])
      if m and (m[M_STATUS] == 'ASSIGNED' or m[M_STATUS] == 'IN_PROGRESS') then
        local group = task_group(m, v[2] or '')
        if applies(l, stats().itype(v[2] or ''), group) then
          local key = limit_key(l, group)
          ensure_flow(m)
          local has = false
          for k in string.gmatch(m[M_SLOTS], '[^\n]+') do
            if k == key then has = true end
          end
          if not has then
            m[M_SLOTS] = m[M_SLOTS] == '' and key or (m[M_SLOTS] .. '\n' .. key)
            redis.call('HSET', tkey(tid), 'm', cmsgpack.pack(m))
          end
          redis.call('HINCRBY', K_LRUN, key, 1)
        end
      end
    end
  end
  local tb = redis.call('HGETALL', K_LTOK)
  for j = 1, #tb, 2 do
    if matches(tb[j], id) then
      if l.RatePerSecond == 0 then
        redis.call('HDEL', K_LTOK, tb[j])
      else
        local tk, at = string.match(tb[j + 1], '^([^,]+),(.+)$')
        if tonumber(tk) > l.Burst then redis.call('HSET', K_LTOK, tb[j], string.format('%.6f', l.Burst) .. ',' .. at) end
      end
    end
  end
  local tent = {}
  for _, hk in ipairs(held_sets(id)) do release(F, hk, tent, MAX_HOLD) end
  return 'ok'
elseif op == 'del' then
  local id = ARGV[4]
  if redis.call('HEXISTS', K_LIMITS, id) == 0 then return err('NOT_FOUND', 'no limit "%s"', id) end
  for _, hk in ipairs(held_sets(id)) do release_some(hk) end
  redis.call('HDEL', K_LIMITS, id)
  redis.call('HDEL', K_LTIMES, id)
  for _, k in ipairs({ K_LRUN, K_LTOK }) do
    for _, f in ipairs(redis.call('HKEYS', k)) do
      if matches(f, id) then redis.call('HDEL', k, f) end
    end
  end
  return 'ok'
elseif op == 'pause' then
  local typ, on = ARGV[4], ARGV[5] == '1'
  if on then return tostring(redis.call('SADD', K_PAUSED, typ)) end
  if redis.call('SREM', K_PAUSED, typ) == 0 then return '0' end
  release_some('paused:' .. typ)
  return '1'
end
return err('BAD_USER_INPUT', 'unknown limit operation %s', op)
