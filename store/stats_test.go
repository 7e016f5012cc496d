package store

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// runTasks creates n tasks of type typ and runs each on node for run (by
// the clock), completing them.
func runTasks(t *testing.T, s archivist.Store, clock *testkit.Clock, typ, node string, n int, run time.Duration) {
	t.Helper()
	ctx := context.Background()
	for range n {
		task := &archivist.Task{Type: typ, Input: json.RawMessage(`{}`), Priority: archivist.PriorityNormal, Timeout: time.Hour}
		if err := s.CreateTasks(ctx, []*archivist.Task{task}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ClaimTask(ctx, node, task.ID, time.Second); err != nil {
			t.Fatal(err)
		}
		clock.Advance(run)
		if _, err := s.CompleteTask(ctx, task.ID, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func completedIn(t *testing.T, s archivist.Store, window time.Duration) int64 {
	t.Helper()
	st, err := s.Stats(context.Background(), archivist.StatsQuery{Window: window})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, p := range st.Series {
		n += p.Completed
	}
	return n
}

// TestStatsExpire checks that the engine's rollups are dropped after their
// retention: the fine ones after about an hour, the coarse ones after a day,
// so that memory stays bounded however long a node runs.
func TestStatsExpire(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(time.Date(2026, 1, 1, 12, 0, 3, 0, time.UTC))
	m := NewMemory(Options{Now: clock.Now})
	defer m.Close()
	runTasks(t, m, clock, "job", "n1", 5, 100*time.Millisecond)
	if got := completedIn(t, m, time.Hour); got != 5 {
		t.Fatalf("1h window: %d completed, want 5", got)
	}
	st, _ := m.Stats(context.Background(), archivist.StatsQuery{Window: time.Hour})
	var run time.Duration
	for _, p := range st.Series {
		run = max(run, p.RunP50)
	}
	if run < 90*time.Millisecond || run > 110*time.Millisecond {
		t.Errorf("run p50 %s, want 100ms within a bin", run)
	}

	clock.Advance(2 * time.Hour)
	if got := completedIn(t, m, time.Hour); got != 0 {
		t.Errorf("1h window, 2h later: %d completed, want 0", got)
	}
	if got := completedIn(t, m, 24*time.Hour); got != 5 {
		t.Errorf("24h window, 2h later: %d completed, want 5", got)
	}
	runTasks(t, m, clock, "job", "n1", 1, 0) // a new bucket drops the expired ones
	if n := len(m.stats.tiers[0]); n != 1 {
		t.Errorf("%d fine buckets kept 2h later, want 1 (the current one)", n)
	}

	clock.Advance(25 * time.Hour)
	if got := completedIn(t, m, 24*time.Hour); got != 0 {
		t.Errorf("24h window, a day later: %d completed, want 0", got)
	}
	runTasks(t, m, clock, "job", "n1", 1, 0)
	if n0, n1 := len(m.stats.tiers[0]), len(m.stats.tiers[1]); n0 != 1 || n1 != 1 {
		t.Errorf("a day later %d fine and %d coarse buckets kept, want 1 and 1", n0, n1)
	}
}

// TestStatsBoltReopen checks that the embedded store keeps its rollups
// across a restart, and drops the expired ones from the file when it opens.
func TestStatsBoltReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "archivist.db")
	clock := testkit.NewClock(time.Date(2026, 1, 1, 12, 0, 3, 0, time.UTC))
	b, err := OpenBolt(path, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	runTasks(t, b, clock, "alpha", "n1", 3, 20*time.Millisecond)
	runTasks(t, b, clock, "beta", "n2", 2, 50*time.Millisecond)
	ctx := context.Background()
	before, err := b.Stats(ctx, archivist.StatsQuery{Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b, err = OpenBolt(path, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	after, err := b.Stats(ctx, archivist.StatsQuery{Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if j1, j2 := mustJSON(t, before), mustJSON(t, after); j1 != j2 {
		t.Errorf("stats changed across a reopen:\nbefore %s\nafter  %s", j1, j2)
	}
	if len(after.ByType) != 2 || len(after.ByNode) != 2 {
		t.Errorf("after reopen: types %+v nodes %+v, want alpha, beta on n1, n2", after.ByType, after.ByNode)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	clock.Advance(25 * time.Hour)
	b, err = OpenBolt(path, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := completedIn(t, b, 24*time.Hour); got != 0 {
		t.Errorf("a day later: %d completed, want 0", got)
	}
	n := 0
	_ = b.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketStats).Stats().KeyN
		return nil
	})
	if n != 0 {
		t.Errorf("%d expired statistics buckets left in the file, want 0", n)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRedisStatsKeys checks that the Redis store's statistics buckets
// expire on their own (every bucket key has a TTL no longer than its
// retention), and that the first write of a fine bucket rolls the fine
// buckets before it up into their coarse bucket.
func TestRedisStatsKeys(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	r := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "ttl"})
	ctx := t.Context()
	// Stay in one fine bucket, by the server's clock (the test's, here).
	fine := int64(statTiers[0].res / time.Second)
	if left := fine - time.Now().Unix()%fine; left < 3 {
		time.Sleep(time.Duration(left)*time.Second + 100*time.Millisecond)
	}
	now := time.Now().Unix()
	cur := now - now%fine
	// A fine bucket from 20 s ago, not rolled up yet: 5 completed tasks.
	old := cur - 2*fine
	if err := r.client.Eval(ctx, `redis.call('HSET', KEYS[1], 'g', cmsgpack.pack({0, 5, 0, 0, 0, {}, {}, 0, 0}))
		redis.call('SET', KEYS[2], ARGV[1])
		return 1`, []string{r.keys.stats(fine, old), r.keys.prefix + "stats:rolled"},
		old-fine).Err(); err != nil {
		t.Fatal(err)
	}
	task := &archivist.Task{Type: "job", Input: json.RawMessage(`{}`), Priority: archivist.PriorityNormal, Timeout: time.Minute}
	if err := r.CreateTasks(ctx, []*archivist.Task{task}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ClaimTask(ctx, "n1", task.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CompleteTask(ctx, task.ID, 1, nil); err != nil {
		t.Fatal(err)
	}
	coarse := int64(statTiers[1].res / time.Second)
	g, err := r.client.HGet(ctx, r.keys.stats(coarse, old-old%coarse), "g").Result()
	if err != nil {
		t.Fatalf("the coarse bucket of %d: %v (not rolled up)", old, err)
	}
	if d, err := decodeStatDim(g); err != nil || d.Completed != 5 {
		t.Errorf("coarse bucket: %+v, %v; want the 5 completed tasks of the fine bucket rolled up", d, err)
	}
	if rolled, _ := r.client.Get(ctx, r.keys.prefix+"stats:rolled").Result(); rolled != strconv.FormatInt(cur-fine, 10) {
		t.Errorf("rolled up to %s, want %d", rolled, cur-fine)
	}
	// Every window counts the task and the 5 once.
	for _, w := range []time.Duration{time.Hour, 24 * time.Hour} {
		if got := completedIn(t, r, w); got != 6 {
			t.Errorf("window %s: %d completed, want 6", w, got)
		}
	}

	keys, err := r.client.Keys(ctx, "{archivist:ttl}:stats:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		ttl, err := r.client.TTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		var limit time.Duration
		switch {
		case k == "{archivist:ttl}:stats:rolled" || k == "{archivist:ttl}:stats:beats":
			continue
		case k == r.keys.stats(fine, old):
			continue // written by the test, without a TTL
		case strings.HasPrefix(k, "{archivist:ttl}:stats:10:"):
			limit = statTiers[0].res + statTiers[0].keep
		case strings.HasPrefix(k, "{archivist:ttl}:stats:300:"):
			limit = statTiers[1].res + statTiers[1].keep
		default:
			t.Errorf("unexpected stats key %s", k)
			continue
		}
		if ttl <= statTiers[0].keep-time.Minute || ttl > limit {
			t.Errorf("key %s expires in %s, want about %s", k, ttl, limit)
		}
	}
}
