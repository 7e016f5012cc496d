package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist"
)

// A Redis that cannot be reached is not a bug: every command that fails for
// want of a server (refused or reset connections, timeouts, a full pool, a
// server still loading or without a master) fails with UNAVAILABLE and a
// message naming the store, and the store logs one line when it loses Redis
// and one when it has it back, however many operations fail meanwhile.

// unavailableError is a command that failed because Redis cannot be
// reached: its *archivist.Error (UNAVAILABLE, naming the store, never a
// password) for clients, its cause for logs.
type unavailableError struct {
	app   *archivist.Error
	cause error
}

func (e *unavailableError) Error() string   { return e.app.Message + ": " + e.cause.Error() }
func (e *unavailableError) Unwrap() []error { return []error{e.app, e.cause} }

// Replies of a server that runs but cannot serve yet (loading its data, a
// replica without its master, a cluster without a quorum, a slot moving).
var unavailableReplies = []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN"}

// unreachable reports whether err says that Redis could not be reached,
// rather than that it answered with an error. A deadline counts (the
// server did not answer in time); a cancelled context does not (the caller
// left).
func unreachable(err error) bool {
	switch {
	case err == nil, errors.Is(err, redis.Nil), errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	for _, p := range unavailableReplies {
		if redis.HasErrorPrefix(err, p) {
			return true
		}
	}
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "sentinels") && strings.Contains(msg, "unreachable")
}

// reachFlapWindow: a failure this soon after Redis came back is a
// connection that died with the old server and is only now found dead (the
// event reader's blocked read, a pooled connection). It marks the store
// down without a line; if failures go on past the window, the loss is
// logged then.
const reachFlapWindow = 2 * time.Second

// reachability follows whether the store answers, from the outcome of every
// command, and logs the changes: one line when Redis is lost, one when it is
// back.
type reachability struct {
	name string // "the Redis store at 127.0.0.1:6379"
	log  *slog.Logger

	down  atomic.Bool // fast path of answered
	armed atomic.Bool // once the store opened: no lines about the first connection
	mu    sync.Mutex
	since time.Time // when the outage began
	// announced: the outage was logged (its end will be).
	announced bool
	backAt    time.Time // when Redis last came back
}

// failed records a command that could not reach the store.
func (h *reachability) failed(err error) {
	if !h.armed.Load() {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if !h.down.Load() {
		h.since, h.announced = now, false
		h.down.Store(true)
	}
	if h.announced || now.Sub(h.backAt) < reachFlapWindow && now.Sub(h.since) < reachFlapWindow {
		return
	}
	h.announced = true
	h.log.Warn("lost the store: "+h.name+" cannot be reached; requests fail with UNAVAILABLE until it answers again",
		"err", err)
}

// answered records a command the store answered (with a result or an
// error of its own).
func (h *reachability) answered() {
	if !h.down.Load() {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.down.Load() {
		return
	}
	h.down.Store(false)
	h.backAt = time.Now()
	if h.announced {
		h.log.Info("store reachable again: "+h.name+" answers", "after", time.Since(h.since).Round(time.Millisecond))
	}
}

// Unreachable returns an UNAVAILABLE error, and when the outage began, while
// the last command this store sent could not reach Redis; nil once Redis
// answers again.
func (r *Redis) Unreachable() (since time.Time, err error) {
	if !r.reach.down.Load() {
		return time.Time{}, nil
	}
	r.reach.mu.Lock()
	since = r.reach.since
	r.reach.mu.Unlock()
	return since, r.unavailable(errors.New("no answer since " + since.UTC().Format(time.RFC3339)))
}

// RegainedAt is when Redis last answered again after an outage (zero if
// this store never lost it): see archivist.InHeartbeatGrace.
func (r *Redis) RegainedAt() time.Time {
	r.reach.mu.Lock()
	defer r.reach.mu.Unlock()
	return r.reach.backAt
}

func (r *Redis) unavailable(cause error) error {
	return &unavailableError{app: archivist.Errorf(archivist.CodeUnavailable, "%s cannot be reached", r.reach.name), cause: cause}
}

// classify turns the error of one command into UNAVAILABLE when Redis could
// not be reached, and tells the tracker.
func (r *Redis) classify(ctx context.Context, err error) error {
	var ue *unavailableError
	switch {
	case errors.As(err, &ue):
		return err // a client shared by two stores: classified already
	case r.closed.Load() || errors.Is(err, redis.ErrClosed):
		if err != nil && !errors.Is(err, redis.Nil) {
			return errors.Join(errRedisClosed, err)
		}
		return err
	case !unreachable(err):
		if !errors.Is(err, context.Canceled) {
			r.reach.answered()
		}
		return err
	}
	// Past the caller's own deadline the server was slow for this caller;
	// only a failure of the connection itself means the store is lost.
	if !(errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil) {
		r.reach.failed(err)
	}
	return r.unavailable(err)
}

// reachHook applies classify to every command and pipeline of a client.
type reachHook struct{ r *Redis }

func (h reachHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reachHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		return h.r.classify(ctx, next(ctx, cmd))
	}
}

func (h reachHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			if ce := c.Err(); ce != nil {
				if e := h.r.classify(ctx, ce); e != ce {
					c.SetErr(e)
				}
			}
		}
		return h.r.classify(ctx, err)
	}
}

// redisName names the store for messages: its addresses, never a password.
func redisName(o *redis.UniversalOptions, client redis.UniversalClient) string {
	if o == nil {
		o = &redis.UniversalOptions{}
		switch c := client.(type) {
		case *redis.Client:
			if a := c.Options().Addr; a != "FailoverClient" {
				o.Addrs = []string{a}
			}
		case *redis.ClusterClient:
			o.Addrs, o.IsClusterMode = c.Options().Addrs, true
		}
	}
	addrs := strings.Join(o.Addrs, ",")
	switch {
	case o.MasterName != "":
		return "the Redis store (Sentinel master " + o.MasterName + " via " + addrs + ")"
	case o.IsClusterMode || len(o.Addrs) > 1:
		return "the Redis Cluster store at " + addrs
	case addrs == "":
		return "the Redis store"
	}
	return "the Redis store at " + addrs
}

// redisLogger routes go-redis's own log lines (pool and reconnection
// errors, which it would print to stderr once per failed dial) to a
// *slog.Logger at debug level: the store says once that Redis is gone.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if l.log.Enabled(ctx, slog.LevelDebug) {
		l.log.Log(ctx, slog.LevelDebug, "go-redis: "+strings.TrimSpace(fmt.Sprintf(format, v...)))
	}
}

var redisLoggerOnce sync.Once

// SetRedisLogger sends go-redis's own log lines to logger at debug level.
// go-redis has one logger per process: the first call wins.
func SetRedisLogger(logger *slog.Logger) {
	if logger == nil {
		return
	}
	redisLoggerOnce.Do(func() { redis.SetLogger(redisLogger{log: logger}) })
}
