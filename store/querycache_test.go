package store

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist/internal/apq"
	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// TestQueryLRUBoundedByBytes checks that the memory stores keep at most
// engineQueryBytes of queries, dropping the least recently used first.
func TestQueryLRUBoundedByBytes(t *testing.T) {
	t.Parallel()
	m := NewMemory(Options{})
	t.Cleanup(func() { _ = m.Close() })
	ctx := t.Context()
	query := func(i int) string {
		return fmt.Sprintf("{ task(id: \"%04d\") { id } }", i) + strings.Repeat(" ", apq.MaxQueryBytes-64)
	}
	put := func(i int) {
		t.Helper()
		q := query(i)
		if err := m.PutQuery(ctx, apq.Hash(q), q); err != nil {
			t.Fatalf("PutQuery %d: %v", i, err)
		}
	}
	has := func(i int) bool {
		_, ok, err := m.GetQuery(ctx, apq.Hash(query(i)))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	fit := engineQueryBytes / (len(query(0)) + apq.EntryOverhead)
	for i := range fit {
		put(i)
	}
	if !has(0) { // 0 becomes the most recently used, 1 the least
		t.Fatalf("query 0 of %d is gone before the cache is full", fit)
	}
	put(fit)
	if !has(0) || has(1) || !has(2) {
		t.Errorf("one over: want query 1 (least recently used) dropped; kept 0 %v, 1 %v, 2 %v", has(0), has(1), has(2))
	}
	for i := fit + 1; i < 3*fit; i++ {
		put(i)
		if _, bytes := m.queries.Len(); bytes > engineQueryBytes {
			t.Fatalf("after %d queries the cache holds %d bytes, over %d", i+1, bytes, engineQueryBytes)
		}
	}
	if n, _ := m.queries.Len(); n != fit {
		t.Errorf("%d entries, want %d", n, fit)
	}
}

// TestRedisQueryTTL checks that a persisted query expires unless used, and
// that a read renews it.
func TestRedisQueryTTL(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	r := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "apq"})
	ctx := t.Context()
	query := "{ nodes { id } }"
	hash := apq.Hash(query)
	if err := r.PutQuery(ctx, hash, query); err != nil {
		t.Fatal(err)
	}
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = raw.Close() })
	key := "{archivist:apq}:query:" + hash
	ttl, err := raw.TTL(ctx, key).Result()
	if err != nil || ttl <= RedisQueryTTL-time.Minute || ttl > RedisQueryTTL {
		t.Fatalf("TTL of %s after PutQuery = %v (%v), want about %v", key, ttl, err, RedisQueryTTL)
	}
	if err := raw.Expire(ctx, key, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := r.GetQuery(ctx, hash); err != nil || !ok || got != query {
		t.Fatalf("GetQuery = %q, %v, %v", got, ok, err)
	}
	if ttl, err := raw.TTL(ctx, key).Result(); err != nil || ttl <= RedisQueryTTL-time.Minute {
		t.Errorf("TTL after GetQuery = %v (%v): the read did not renew it", ttl, err)
	}
	// Once expired it is a miss, not an error. (Wait for the expiry with
	// EXISTS: a GetQuery a moment too soon would renew the key.)
	if err := raw.PExpire(ctx, key, time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, func() bool { return raw.Exists(ctx, key).Val() == 0 }, "the key to expire")
	if q, ok, err := r.GetQuery(ctx, hash); err != nil || ok {
		t.Errorf("GetQuery of an expired query = %q, %v, %v; want a miss", q, ok, err)
	}
}

// TestRedisQueryBudget checks that the Redis store keeps its persisted
// queries within QueryBytes, counting an overhead for each so that many
// tiny ones are bounded too, dropping the least recently used (a read
// counts as a use), and that its bookkeeping (queries, querysizes,
// querybytes) agrees with the query keys left.
func TestRedisQueryBudget(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const budget = 1 << 20
	r := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "budget", QueryBytes: budget})
	ctx := t.Context()
	query := func(i int) string { return fmt.Sprintf("{ task(id: \"%d\") { id } }", i) + strings.Repeat(" ", 20<<10) }
	put := func(i int) {
		t.Helper()
		q := query(i)
		if err := r.PutQuery(ctx, apq.Hash(q), q); err != nil {
			t.Fatalf("PutQuery %d: %v", i, err)
		}
	}
	has := func(i int) bool {
		_, ok, err := r.GetQuery(ctx, apq.Hash(query(i)))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for i := range 100 { // 2 MB
		put(i)
		if i%20 == 10 && !has(0) { // 0 keeps being used
			t.Fatalf("query 0, in use, is gone after %d more", i)
		}
	}
	if !has(0) || has(1) || !has(99) {
		t.Errorf("want query 0 (read) and 99 (last) kept, 1 dropped: %v %v %v", has(0), has(1), has(99))
	}
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = raw.Close() })
	prefix := "{archivist:budget}:"
	total, _ := raw.Get(ctx, prefix+"querybytes").Int64()
	if total > budget || total < budget/2 {
		t.Errorf("querybytes = %d, want at most %d and not far under", total, budget)
	}
	keys, err := raw.Keys(ctx, prefix+"query:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	zn, hn := raw.ZCard(ctx, prefix+"queries").Val(), raw.HLen(ctx, prefix+"querysizes").Val()
	if int64(len(keys)) != zn || zn != hn {
		t.Errorf("%d query keys, %d in queries, %d in querysizes: want the same", len(keys), zn, hn)
	}
	var sum int64
	for _, v := range raw.HVals(ctx, prefix+"querysizes").Val() {
		n, _ := strconv.ParseInt(v, 10, 64)
		sum += n
	}
	if sum != total {
		t.Errorf("querysizes add up to %d, querybytes says %d", sum, total)
	}
	used, _ := raw.MemoryUsage(ctx, keys[0]).Result()
	t.Logf("%d queries kept, %d bytes counted; one key takes %d bytes in Redis", len(keys), total, used)
}
