package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/redistest"
)

func TestServerGone(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{redis.Nil, false},
		{context.Canceled, false},
		{redis.ErrClosed, false},
		{redisReply("CONFLICT task is running"), false},
		{redisReply("NOSCRIPT No matching script"), false},
		{redisReply("CLUSTERDOWN The cluster is down"), true},
		{redisReply("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{redisReply("MASTERDOWN Link with MASTER is down"), true},
		{redisReply("LOADING Redis is loading the dataset in memory"), true},
		{redisReply("READONLY You can't write against a read only replica."), true},
		{refused, true},
		{fmt.Errorf("wrapped: %w", refused), true},
		{io.EOF, true},
		{context.DeadlineExceeded, true},
		{&net.OpError{Op: "read", Net: "tcp", Err: errors.New("i/o timeout")}, true},
	} {
		if got := serverGone(c.err); got != c.want {
			t.Errorf("serverGone(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestTuneFailover(t *testing.T) {
	o := &redis.UniversalOptions{}
	tuneFailover(o)
	if o.DialTimeout != RedisDialTimeout || o.DialerRetries != RedisDialerRetries ||
		o.ReadTimeout != RedisReadTimeout || o.WriteTimeout != RedisWriteTimeout {
		t.Fatalf("defaults not set: %+v", o)
	}
	// What the caller set stays.
	o = &redis.UniversalOptions{DialTimeout: time.Second, DialerRetries: 7, ReadTimeout: -1, WriteTimeout: 5 * time.Second}
	tuneFailover(o)
	if o.DialTimeout != time.Second || o.DialerRetries != 7 || o.ReadTimeout != -1 || o.WriteTimeout != 5*time.Second {
		t.Fatalf("caller's options changed: %+v", o)
	}
}

// TestWatchFailoverReloads: a Cluster client whose command fails as if its
// server were gone reloads its slot map; a command that succeeds or fails
// on its own does not.
func TestWatchFailoverReloads(t *testing.T) {
	reloads := 0
	h := reloadHook{reload: func() { reloads++ }}
	process := h.ProcessHook(func(ctx context.Context, cmd redis.Cmder) error { return cmd.Err() })
	pipeline := h.ProcessPipelineHook(func(ctx context.Context, cmds []redis.Cmder) error { return cmds[0].Err() })
	cmd := func(err error) redis.Cmder {
		c := redis.NewCmd(context.Background(), "get", "k")
		c.SetErr(err)
		return c
	}
	_ = process(context.Background(), cmd(nil))
	_ = process(context.Background(), cmd(redisReply("CONFLICT no")))
	_ = pipeline(context.Background(), []redis.Cmder{cmd(redis.Nil)})
	if reloads != 0 {
		t.Fatalf("%d reloads after commands that reached their server", reloads)
	}
	_ = process(context.Background(), cmd(io.EOF))
	_ = pipeline(context.Background(), []redis.Cmder{cmd(redisReply("CLUSTERDOWN down"))})
	if reloads != 2 {
		t.Fatalf("%d reloads, want 2", reloads)
	}
}

// TestRedisClusterFailover: on a Redis Cluster with replicas, the master of
// the store's slot is killed; writes, and the events the store's reader
// tails, resume within a second or two of the replica's promotion (not at
// go-redis's next slot-map refresh, a minute later).
func TestRedisClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six servers")
	}
	rc := redistest.StartReplicatedCluster(t)
	ctx := t.Context()
	s, err := OpenRedis(ctx, RedisOptions{URL: rc.URL(), Cluster: "failover"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	sub, err := s.Subscribe(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	createNamed(t, s, "before")
	waitCreated(t, sub, "before", 5*time.Second)

	m, err := rc.MasterOf(ctx, "{archivist:failover}:x")
	if err != nil {
		t.Fatal(err)
	}
	// Replication is asynchronous: without WAIT the replica may lack the
	// last write when the master dies, and the event counter goes back
	// (see docs/cluster.md, the data-loss window). This test is about how soon the
	// store resumes, so the replica has everything first.
	if n, err := redistest.Do(ctx, m.Addr, "WAIT", 1, 1000); err != nil || n != int64(1) {
		t.Fatalf("WAIT 1: %v %v", n, err)
	}
	r, err := rc.ReplicaOf(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	m.Kill()
	promoted := redistest.WaitMaster(t, r.Addr, 20*time.Second)
	// Write until a write goes through, each with a short bound.
	var wrote time.Time
	for i := 0; ; i++ {
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		err := s.CreateTasks(wctx, []*archivist.Task{{ID: fmt.Sprintf("after-%d", i), Type: "t",
			Priority: archivist.PriorityNormal, Timeout: time.Minute}})
		cancel()
		if err == nil {
			wrote = time.Now()
			waitCreated(t, sub, fmt.Sprintf("after-%d", i), 5*time.Second)
			break
		}
		if time.Since(promoted) > 30*time.Second {
			t.Fatalf("no write 30s after the promotion: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took, seen := wrote.Sub(promoted), time.Since(promoted)
	t.Logf("first write %s after the promotion, its event read back %s after it", took.Round(time.Millisecond), seen.Round(time.Millisecond))
	if seen > 3*time.Second {
		t.Errorf("the store resumed %s after the promotion, want within 3s", seen.Round(time.Millisecond))
	}
}

// waitCreated waits for the TaskCreated event of id on sub.
func waitCreated(t *testing.T, sub archivist.Subscription, id string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-sub.C():
			if !ok {
				t.Fatalf("subscription ended: %v", sub.Err())
			}
			if ev.Type == archivist.EventTaskCreated && ev.Task.ID == id {
				return
			}
		case <-deadline:
			t.Fatalf("no task.created event for %s within %s", id, timeout)
		}
	}
}

// TestRedisEventSeqReused: the server loses its last events (a failover to
// a replica that had not received them) and gives their Seqs to new ones
// while a node's reader is cut off: when it reconnects, it finds that the
// entries at the Seqs it read are not the ones it published (their times
// differ) and reads on from the last one that is, rather than skip the new
// events as if it had them.
func TestRedisEventSeqReused(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := t.Context()
	// b and the test write as "w"; a reads as "default", which the test
	// turns off to keep a's reader out while the server loses events.
	if _, err := redistest.Do(ctx, srv.Addr, "ACL", "SETUSER", "w", "on", ">pw", "~*", "&*", "+@all"); err != nil {
		t.Fatal(err)
	}
	a := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "reuse"})
	b := openTestRedis(t, RedisOptions{URL: "redis://w:pw@" + srv.Addr + "/0", Cluster: "reuse"})
	subA, err := a.Subscribe(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer subA.Close()
	var prev uint64
	createNamed(t, b, "kept")
	createNamed(t, b, "lost")
	if got := createdIDs(t, subA, 2, &prev); !slices.Equal(got, []string{"kept", "lost"}) {
		t.Fatalf("a saw %v", got)
	}
	raw := b.Client()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(raw.Do(ctx, "ACL", "SETUSER", "default", "off").Err())
	must(raw.Do(ctx, "CLIENT", "KILL", "USER", "default").Err())
	// Lose "lost": its stream entry and its Seq (a stream's top id never
	// goes back: rebuild it without the entry). Its task stays; only the
	// events matter here.
	stream := b.keys.key(redisKeyEvents)
	msgs, err := raw.XRange(ctx, stream, "-", "+").Result()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("XRANGE: %d entries, %v", len(msgs), err)
	}
	must(raw.Del(ctx, stream).Err())
	must(raw.XAdd(ctx, &redis.XAddArgs{Stream: stream, ID: msgs[0].ID, Values: msgs[0].Values}).Err())
	must(raw.Set(ctx, b.keys.key(redisKeyEventSeq), prev-1, 0).Err())
	createNamed(t, b, "after")
	createNamed(t, b, "after-2")
	must(raw.Do(ctx, "ACL", "SETUSER", "default", "on").Err())
	prev--
	if got := createdIDs(t, subA, 2, &prev); !slices.Equal(got, []string{"after", "after-2"}) {
		t.Fatalf("after the loss a saw %v, want [after after-2]", got)
	}
}
