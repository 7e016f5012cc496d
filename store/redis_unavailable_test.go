package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"
)

// redisReply is an error reply of a Redis server.
type redisReply string

func (e redisReply) Error() string { return string(e) }
func (redisReply) RedisError()     {}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{redis.Nil, false},
		{context.Canceled, false},
		{redisReply("CONFLICT task is finished"), false},
		{redisReply("NOSCRIPT No matching script"), false},
		{redisReply("ERR wrong number of arguments"), false},
		{redisReply("LOADING Redis is loading the dataset in memory"), true},
		{redisReply("READONLY You can't write against a read only replica."), true},
		{redisReply("MASTERDOWN Link with MASTER is down"), true},
		{redisReply("CLUSTERDOWN The cluster is down"), true},
		{redisReply("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{io.EOF, true},
		{redis.ErrPoolTimeout, true},
		{context.DeadlineExceeded, true},
		{errors.New("redis: all sentinels specified in configuration are unreachable"), true},
	} {
		if got := unreachable(c.err); got != c.want {
			t.Errorf("unreachable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestReachabilityLogsOnce: one line when the store is lost, one when it is
// back; a failure just after it came back (a connection that died with the
// old server) is no news unless failures go on.
func TestReachabilityLogsOnce(t *testing.T) {
	t.Parallel()
	logs := &countingHandler{msgs: map[string]int{}}
	h := &reachability{name: "the Redis store at 127.0.0.1:1", log: slog.New(logs)}
	h.failed(io.EOF) // before the store opened: not armed
	h.armed.Store(true)
	for range 100 {
		h.failed(io.EOF)
	}
	h.answered()
	h.answered()
	h.failed(io.EOF) // a stale connection, within reachFlapWindow
	h.answered()
	if n := logs.count("lost the store: the Redis store at 127.0.0.1:1"); n != 1 {
		t.Errorf("lost logged %d times, want 1", n)
	}
	if n := logs.count("store reachable again: the Redis store at 127.0.0.1:1"); n != 1 {
		t.Errorf("regained logged %d times, want 1", n)
	}
	if h.down.Load() {
		t.Error("down after the store answered")
	}
}
