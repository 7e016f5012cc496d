-- schedule creates, updates, pauses or deletes a schedule. Schedules are
-- two HASHes built from the prefix (see rediskeys.go):
--   <prefix>schedules        name -> definition JSON (as Go encodes it,
--                            its state left out)
--   <prefix>schedules:state  name -> MessagePack [paused (1/0), next run,
--                            last run, last task id, created, updated,
--                            overlap policy] (times in µs, 0: none): what
--                            the scripts compare and change
-- ARGV[3] the change, ARGV[4] the name, then:
--   create  ARGV[5] definition, ARGV[6] paused, ARGV[7] next run, ARGV[8]
--           last run, ARGV[9] last task id, ARGV[10] the most schedules,
--           ARGV[11] overlap policy
--   update  ARGV[5] definition, ARGV[6] next run, ARGV[7] overlap policy
--   pause   ARGV[5] paused ('1' or '0'), ARGV[6] next run when resuming
--   delete  nothing
-- Records schedule.updated or schedule.deleted (['S', type, detail, name,
-- definition, state]; a deletion's are the last ones), and returns {definition,
-- state} ({} for a deletion). A pause that changes nothing records
-- nothing.
local KD, KS = P .. 'schedules', P .. 'schedules:state'
local op, name = ARGV[3], ARGV[4]
local function save(def, st)
  local packed = cmsgpack.pack(st)
  if def then redis.call('HSET', KD, name, def) else def = redis.call('HGET', KD, name) end
  redis.call('HSET', KS, name, packed)
  EVENTS[#EVENTS + 1] = { 'S', 'schedule.updated', '', name, def, packed }
  return { def, packed }
end

if op == 'create' then
  if redis.call('HEXISTS', KD, name) == 1 then return err('CONFLICT', 'schedule "%s" already exists', name) end
  local n = redis.call('HLEN', KD)
  if n >= tonumber(ARGV[10]) then
    return err('CONFLICT', 'the cluster holds %d schedules, the most it may hold; delete one first', n)
  end
  return save(ARGV[5], { tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9], NOW, NOW, ARGV[11] })
end

local cur = redis.call('HGET', KS, name)
if not cur then return err('NOT_FOUND', 'schedule "%s" not found', name) end
local st = cmsgpack.unpack(cur)
if op == 'update' then
  st[2], st[6], st[7] = tonumber(ARGV[6]), NOW, ARGV[7]
  return save(ARGV[5], st)
elseif op == 'pause' then
  local paused = tonumber(ARGV[5])
  if st[1] == paused then return { redis.call('HGET', KD, name), cur } end
  st[1], st[6] = paused, NOW
  if paused == 0 then st[2] = tonumber(ARGV[6]) end
  return save(nil, st)
elseif op == 'delete' then
  local def = redis.call('HGET', KD, name)
  redis.call('HDEL', KD, name)
  redis.call('HDEL', KS, name)
  EVENTS[#EVENTS + 1] = { 'S', 'schedule.deleted', '', name, def, cur }
  return {}
end
return err('BAD_USER_INPUT', 'unknown schedule change "%s"', op)
