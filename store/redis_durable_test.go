package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/redistest"
)

func TestParseRedisURLWait(t *testing.T) {
	for _, c := range []struct {
		url  string
		want redisDurability
		err  string
	}{
		{"redis://h", redisDurability{}, ""},
		{"redis://h?wait_replicas=1", redisDurability{replicas: 1}, ""},
		{"redis+cluster://h:1,h:2?wait_replicas=2&wait_timeout=250ms", redisDurability{2, 250 * time.Millisecond}, ""},
		{"redis+sentinel://h/m?wait_replicas=1&wait_timeout=3s", redisDurability{1, 3 * time.Second}, ""},
		{"redis://h?wait_replicas=-1", redisDurability{}, "wait_replicas"},
		{"redis://h?wait_replicas=x", redisDurability{}, "wait_replicas"},
		{"redis://h?wait_replicas=1&wait_timeout=0s", redisDurability{}, "wait_timeout"},
		{"redis://h?wait_replicas=1&wait_timeout=2h", redisDurability{}, "wait_timeout"},
		{"redis://h?wait_timeout=1s", redisDurability{}, "needs wait_replicas"},
	} {
		_, got, err := parseRedisURL(c.url)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one about %s", c.url, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.url, err)
		case c.err == "" && got != c.want:
			t.Errorf("%s: %+v, want %+v", c.url, got, c.want)
		}
	}
	// The fields win over the URL; the timeout gets its default.
	d, err := redisDurability{replicas: 1, timeout: time.Second}.with(2, 0)
	if err != nil || d != (redisDurability{2, time.Second}) {
		t.Errorf("with(2, 0) = %+v, %v", d, err)
	}
	if d, err := (redisDurability{}).with(1, 0); err != nil || d.timeout != DefaultRedisWaitTimeout {
		t.Errorf("with(1, 0) = %+v, %v", d, err)
	}
	if _, err := (redisDurability{}).with(1, -time.Second); err == nil {
		t.Error("a negative WaitTimeout was accepted")
	}
}

// TestRedisWaitReplicasAlone: a server without replicas cannot satisfy
// wait_replicas=1: a write fails with UNAVAILABLE once the timeout is up,
// rather than hang, and the master did make it; reads still work.
func TestRedisWaitReplicasAlone(t *testing.T) {
	srv := redistest.Start(t)
	s, err := OpenRedis(t.Context(), RedisOptions{URL: srv.URL() + "?wait_replicas=1&wait_timeout=300ms", Cluster: "alone"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	start := time.Now()
	err = s.CreateTasks(t.Context(), []*archivist.Task{{ID: "a", Type: "t", Priority: archivist.PriorityNormal, Timeout: time.Minute}})
	took := time.Since(start)
	checkNotDurable(t, err, took, 300*time.Millisecond)
	if _, err := s.GetTask(t.Context(), "a"); err != nil {
		t.Fatalf("the master did not keep the write: %v", err)
	}
	// A caller's deadline shortens the wait: a campaign for a 200ms lease
	// waits no longer than 200ms, not wait_timeout.
	s2, err := OpenRedis(t.Context(), RedisOptions{URL: srv.URL() + "?wait_replicas=1&wait_timeout=10s", Cluster: "alone"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = s2.Campaign(ctx, "n1", 200*time.Millisecond)
	took = time.Since(start)
	if archivist.ErrorCodeOf(err) != archivist.CodeUnavailable || took > 2*time.Second {
		t.Fatalf("campaign with a 200ms deadline: %v after %s, want UNAVAILABLE within about 200ms", err, took.Round(time.Millisecond))
	}
}

// checkNotDurable checks that err is the UNAVAILABLE of a write that waited
// timeout for its replicas in vain, and that it came about then.
func checkNotDurable(t *testing.T, err error, took, timeout time.Duration) {
	t.Helper()
	var ae *archivist.Error
	if !errors.As(err, &ae) || ae.Code != archivist.CodeUnavailable || !strings.Contains(ae.Message, "may not be durable") {
		t.Fatalf("write without a replica: %v, want UNAVAILABLE saying it may not be durable", err)
	}
	if took < timeout || took > timeout+3*time.Second {
		t.Errorf("the write failed after %s, want about %s", took.Round(time.Millisecond), timeout)
	}
}

// TestRedisWaitReplicasFailover: on a replicated Redis Cluster with
// wait_replicas=1, every write the store acknowledged before the master was
// SIGKILLed mid-stream is on the promoted replica. The promoted replica has
// no replica of its own then, so a new write fails with UNAVAILABLE after
// wait_timeout, and a frozen (SIGSTOPped) replica does the same.
func TestRedisWaitReplicasFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six servers")
	}
	rc := redistest.StartReplicatedCluster(t)
	ctx := t.Context()
	const timeout = 500 * time.Millisecond
	s, err := OpenRedis(ctx, RedisOptions{URL: rc.URL(), Cluster: "durable", WaitReplicas: 1, WaitTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	m, err := rc.MasterOf(ctx, "{archivist:durable}:x")
	if err != nil {
		t.Fatal(err)
	}
	r, err := rc.ReplicaOf(ctx, m)
	if err != nil {
		t.Fatal(err)
	}

	// Four writers create tasks as fast as they can until one fails; the
	// master dies once 400 were acknowledged.
	var (
		mu     sync.Mutex
		acked  []string
		killed = make(chan struct{})
		wg     sync.WaitGroup
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := s.CreateTasks(wctx, []*archivist.Task{{ID: id, Type: "t", Priority: archivist.PriorityNormal, Timeout: time.Minute}})
				cancel()
				if err != nil {
					select {
					case <-killed:
						return
					default:
						t.Errorf("write %s before the kill: %v", id, err)
						return
					}
				}
				mu.Lock()
				acked = append(acked, id)
				n := len(acked)
				mu.Unlock()
				if n == 400 {
					close(killed)
					m.Kill()
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-killed:
	default:
		t.Fatal("the writers stopped before the master was killed")
	}
	redistest.WaitMaster(t, r.Addr, 20*time.Second)
	mu.Lock()
	ids := acked
	mu.Unlock()
	// Reads wait for no replica; retry them while the client finds the new
	// master.
	lost := 0
	for _, id := range ids {
		for try := 0; ; try++ {
			gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := s.GetTask(gctx, id)
			cancel()
			if err == nil {
				break
			}
			if archivist.ErrorCodeOf(err) == archivist.CodeNotFound {
				lost++
				break
			}
			if try > 100 {
				t.Fatalf("read %s after the promotion: %v", id, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("%d writes acknowledged before the kill, %d lost", len(ids), lost)
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes lost in the failover", lost, len(ids))
	}

	// The new master has no replica: a write is made but not durable.
	start := time.Now()
	err = s.CreateTasks(ctx, []*archivist.Task{{ID: "orphan", Type: "t", Priority: archivist.PriorityNormal, Timeout: time.Minute}})
	checkNotDurable(t, err, time.Since(start), timeout)
	if _, err := s.GetTask(ctx, "orphan"); err != nil {
		t.Fatalf("the master did not keep the write: %v", err)
	}
}

// TestRedisWaitReplicasSentinel: through Sentinel, with wait_replicas=1 in
// the URL, a write succeeds while the replica follows, and fails with
// UNAVAILABLE after wait_timeout, rather than hang, once the replica is
// frozen (SIGSTOP).
func TestRedisWaitReplicasSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five servers")
	}
	ss := redistest.StartSentinel(t)
	const timeout = 400 * time.Millisecond
	s, err := OpenRedis(t.Context(), RedisOptions{URL: ss.URL() + "?wait_replicas=1&wait_timeout=400ms", Cluster: "sentinel"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	createNamed(t, s, "durable")
	ss.Replica.Freeze()
	start := time.Now()
	err = s.CreateTasks(t.Context(), []*archivist.Task{{ID: "frozen", Type: "t", Priority: archivist.PriorityNormal, Timeout: time.Minute}})
	checkNotDurable(t, err, time.Since(start), timeout)
	if _, err := s.GetTask(t.Context(), "frozen"); err != nil {
		t.Fatalf("the master did not keep the write: %v", err)
	}
	// A transition waits too: cancelling the durable task is made but not
	// acknowledged by the frozen replica.
	start = time.Now()
	_, err = s.CancelTask(t.Context(), "durable")
	checkNotDurable(t, err, time.Since(start), timeout)
}

// BenchmarkRedisWaitReplicas: what wait_replicas=1 costs one transition
// (a one-task submission) on a master with one replica, both local:
//
//	go test ./store -run '^$' -bench RedisWaitReplicas -benchtime 3000x
func BenchmarkRedisWaitReplicas(b *testing.B) {
	m := redistest.Start(b, "--repl-diskless-sync-delay", "0")
	redistest.Start(b, "--replicaof", "127.0.0.1", fmt.Sprint(m.Port))
	// The replica has synced once it acknowledges a write.
	for try := 0; ; try++ {
		_, _ = redistest.Do(b.Context(), m.Addr, "SET", "synced", "1")
		if n, _ := redistest.Do(b.Context(), m.Addr, "WAIT", 1, 500); n == int64(1) {
			break
		}
		if try > 60 {
			b.Fatal("the replica did not sync within 30s")
		}
	}
	for _, n := range []int{0, 1} {
		b.Run(fmt.Sprintf("wait_replicas=%d", n), func(b *testing.B) {
			s, err := OpenRedis(b.Context(), RedisOptions{URL: m.URL(), Cluster: fmt.Sprintf("bench%d", n), WaitReplicas: n, WaitTimeout: 5 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = s.Close() }()
			var lat []time.Duration
			i := 0
			for b.Loop() {
				i++
				start := time.Now()
				if err := s.CreateTasks(b.Context(), []*archivist.Task{{ID: fmt.Sprintf("t%d", i), Type: "t",
					Priority: archivist.PriorityNormal, Timeout: time.Minute}}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
