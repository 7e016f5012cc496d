package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A reply error, as go-redis returns them.
type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}

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
		{replyErr("CONFLICT task is running"), false},
		{replyErr("NOSCRIPT No matching script"), false},
		{replyErr("CLUSTERDOWN The cluster is down"), true},
		{replyErr("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{replyErr("MASTERDOWN Link with MASTER is down"), true},
		{replyErr("LOADING Redis is loading the dataset in memory"), true},
		{replyErr("READONLY You can't write against a read only replica."), true},
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
	_ = process(context.Background(), cmd(replyErr("CONFLICT no")))
	_ = pipeline(context.Background(), []redis.Cmder{cmd(redis.Nil)})
	if reloads != 0 {
		t.Fatalf("%d reloads after commands that reached their server", reloads)
	}
	_ = process(context.Background(), cmd(io.EOF))
	_ = pipeline(context.Background(), []redis.Cmder{cmd(replyErr("CLUSTERDOWN down"))})
	if reloads != 2 {
		t.Fatalf("%d reloads, want 2", reloads)
	}
}
