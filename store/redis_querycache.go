package store

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist/internal/apq"
)

// RedisQueryTTL is how long a persisted query stays in Redis after it was
// last stored or read: one that clients keep using stays, others expire.
const RedisQueryTTL = 24 * time.Hour

// DefaultRedisQueryBytes bounds the persisted queries a cluster keeps in
// Redis (RedisOptions.QueryBytes), counted as their text plus
// redisQueryOverhead each; beyond it the least recently used go first.
const DefaultRedisQueryBytes = 16 << 20

// redisQueryOverhead is about what Redis spends on a persisted query
// beyond its text: its key, its entries in queries and querysizes. Counted
// in the budget, so that many tiny queries are bounded too.
const redisQueryOverhead = 256

// Keys of the persisted queries, all under the cluster's hash tag:
//
//	<prefix>query:<hash>  STRING the query, expiring RedisQueryTTL after its last use
//	<prefix>queries       ZSET   hash -> last use (ms, server clock)
//	<prefix>querysizes    HASH   hash -> bytes counted for it
//	<prefix>querybytes    STRING the sum of querysizes
func (k redisKeys) query(hash string) string { return k.prefix + "query:" + hash }

func (k redisKeys) queryIndex() []string {
	return []string{k.prefix + "queries", k.prefix + "querysizes", k.prefix + "querybytes"}
}

// putQueryScript stores a query and evicts the least recently used ones
// (and those expired: not used for the TTL) until the budget holds. The
// keys of evicted queries are built from ARGV[1], which carries the
// cluster's hash tag, so they share the slot of the KEYS.
//
//	KEYS: query key, queries, querysizes, querybytes
//	ARGV: prefix, hash, query, TTL (ms), bytes counted, budget (bytes)
var putQueryScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl, weight, budget = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local function drop(h)
  local size = tonumber(redis.call('HGET', KEYS[3], h) or '0')
  redis.call('DEL', ARGV[1] .. 'query:' .. h)
  redis.call('HDEL', KEYS[3], h)
  redis.call('ZREM', KEYS[2], h)
  redis.call('DECRBY', KEYS[4], size)
end
for _, h in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - ttl, 'LIMIT', 0, 100)) do
  drop(h)
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl)
redis.call('ZADD', KEYS[2], now, ARGV[2])
if redis.call('HSETNX', KEYS[3], ARGV[2], weight) == 1 then
  redis.call('INCRBY', KEYS[4], weight)
end
local evicted = 0
while tonumber(redis.call('GET', KEYS[4]) or '0') > budget do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #oldest == 0 then
    redis.call('SET', KEYS[4], 0)
    break
  end
  drop(oldest[1])
  evicted = evicted + 1
end
return evicted
`)

// getQueryScript reads a query, renews its TTL and marks it used.
//
//	KEYS: query key, queries
//	ARGV: hash, TTL (ms)
var getQueryScript = redis.NewScript(`
local q = redis.call('GET', KEYS[1])
if not q then return false end
local t = redis.call('TIME')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 'XX', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1])
return q
`)

// GetQuery reads a persisted query, renews its RedisQueryTTL and marks it
// as recently used. With PutQuery it implements graph.QueryCache
// (structurally: store does not import graph), so that a query registered
// through one node is known on every node of the cluster.
func (r *Redis) GetQuery(ctx context.Context, hash string) (string, bool, error) {
	if err := r.read(); err != nil {
		return "", false, err
	}
	if !apq.ValidHash(hash) {
		return "", false, nil
	}
	q, err := getQueryScript.Run(ctx, r.client, []string{r.keys.query(hash), r.keys.queryIndex()[0]},
		hash, RedisQueryTTL.Milliseconds()).Text()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, r.mapErr("get query", err)
	}
	return q, true, nil
}

// PutQuery stores a persisted query for RedisQueryTTL, for every node of the
// cluster, within the cluster's budget (RedisOptions.QueryBytes).
func (r *Redis) PutQuery(ctx context.Context, hash, query string) error {
	if err := r.read(); err != nil {
		return err
	}
	if err := apq.Check(hash, query); err != nil {
		return err
	}
	keys := append([]string{r.keys.query(hash)}, r.keys.queryIndex()...)
	err := putQueryScript.Run(ctx, r.client, keys, r.keys.prefix, hash, query, RedisQueryTTL.Milliseconds(),
		strconv.Itoa(len(query)+redisQueryOverhead), r.queryBytes).Err()
	if err != nil {
		return r.mapErr("put query", err)
	}
	return nil
}
