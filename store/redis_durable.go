package store

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist"
)

// Redis replicates asynchronously: a write the master acknowledged can be
// missing on the replica promoted after the master died. With
// RedisOptions.WaitReplicas (or wait_replicas=N in the URL) above 0, every
// script that changes state is followed, in the same round trip (a
// pipeline of FCALL and WAIT on the master that runs the function), by
// WAIT N timeout (or until the caller's deadline, if sooner), and the
// call succeeds only when N replicas acknowledged
// the write. When fewer did within the timeout, the call fails with
// UNAVAILABLE: the master did make the write (the tasks exist, the
// transition happened, its events were published), but it may be lost if
// the master fails before a replica has it. A caller that retries after
// such an error may therefore find its first attempt done: a submission
// retried creates its tasks a second time (the first ones stay, unless the
// failover lost them: list the tasks before retrying if duplicates
// matter); a transition retried finds the task moved on (CONFLICT).

// DefaultRedisWaitTimeout is how long a write waits for its replicas when
// WaitReplicas is set without a WaitTimeout.
const DefaultRedisWaitTimeout = time.Second

// Bounds of the durability settings.
const (
	maxWaitReplicas = 100
	maxWaitTimeout  = time.Minute
)

// redisDurability is how many replicas each write waits for, and how long.
type redisDurability struct {
	replicas int
	timeout  time.Duration
}

// readOnlyScripts change nothing and wait for no replica.
var readOnlyScripts = map[*redisFunc]bool{luaScripts.leader: true, luaScripts.nextDue: true}

// with overrides d by the RedisOptions fields that are set, checks the
// result and fills in the default timeout.
func (d redisDurability) with(replicas int, timeout time.Duration) (redisDurability, error) {
	if replicas != 0 {
		d.replicas = replicas
	}
	if timeout != 0 {
		d.timeout = timeout
	}
	switch {
	case d.replicas < 0 || d.replicas > maxWaitReplicas:
		return d, fmt.Errorf("redis store: WaitReplicas %d is not from 0 to %d", d.replicas, maxWaitReplicas)
	case d.timeout < 0 || (d.timeout > 0 && d.timeout < time.Millisecond) || d.timeout > maxWaitTimeout:
		return d, fmt.Errorf("redis store: WaitTimeout %s is not from 1ms to %s", d.timeout, maxWaitTimeout)
	case d.replicas == 0:
		return redisDurability{}, nil
	}
	d.timeout = cmp.Or(d.timeout, DefaultRedisWaitTimeout)
	return d, nil
}

// fitReadTimeout raises the read timeout of a client the store builds so
// that a pipeline waiting timeout for its replicas is not cut short (a
// pipeline reads under the client's ReadTimeout, not the WAIT's).
func (d redisDurability) fitReadTimeout(o *redis.UniversalOptions) {
	if d.replicas > 0 && o.ReadTimeout > 0 && o.ReadTimeout < d.timeout+RedisReadTimeout {
		o.ReadTimeout = d.timeout + RedisReadTimeout
	}
}

// checkClient refuses a caller's client whose read timeout would end the
// wait for replicas before the WAIT does.
func (d redisDurability) checkClient(c redis.UniversalClient) error {
	if d.replicas == 0 {
		return nil
	}
	var rt time.Duration
	switch c := c.(type) {
	case *redis.Client:
		rt = c.Options().ReadTimeout
	case *redis.ClusterClient:
		rt = c.Options().ReadTimeout
	default:
		return nil
	}
	if rt > 0 && rt <= d.timeout {
		return fmt.Errorf("redis store: the client's ReadTimeout %s would end a wait for replicas (WaitTimeout %s) early: make it longer", rt, d.timeout)
	}
	return nil
}

// evalDurable runs a script and WAIT in one pipeline on the master that
// owns the store's hash slot.
func (r *Redis) evalDurable(ctx context.Context, op string, s *redisFunc, argv []any) (any, uint64, error) {
	d := r.durability
	loaded := false
	for attempt := 1; ; attempt++ {
		c, err := r.masterClient(ctx)
		if err != nil {
			return nil, 0, r.mapErr(op, err)
		}
		// A caller's deadline shortens the wait (go-redis does not cut a
		// pipeline's read short at the deadline): a leadership campaign
		// waits no longer than its lease lasts.
		timeout := d.timeout
		if dl, ok := ctx.Deadline(); ok {
			timeout = max(min(timeout, time.Until(dl)), time.Millisecond)
		}
		pipe := c.Pipeline()
		run := pipe.FCall(ctx, s.name, r.keys.fixed, argv...)
		wait := redis.NewIntCmd(ctx, "wait", d.replicas, timeout.Milliseconds())
		_ = pipe.Process(ctx, wait)
		_, _ = pipe.Exec(ctx)
		err = run.Err()
		switch {
		case isFunctionMissing(err) && !loaded:
			// A server that lost the library (restarted, promoted): load
			// it and call again; nothing was written.
			loaded = true
			if err := luaScripts.loadOn(ctx, c); err != nil {
				return nil, 0, r.mapErr(op, r.classify(ctx, err))
			}
			continue
		case err != nil && attempt < 3 && (redis.HasErrorPrefix(err, "MOVED") || redis.HasErrorPrefix(err, "ASK")):
			// The slot has a new master (a failover): nothing was written;
			// reload the slot map and run again on the new master.
			if cc, ok := r.client.(*redis.ClusterClient); ok {
				if err := r.awaitSlotMove(ctx, cc, err); err != nil {
					return nil, 0, r.mapErr(op, err)
				}
			}
			continue
		case err != nil:
			return nil, 0, r.mapErr(op, r.classify(ctx, err))
		}
		if _, ok := c.(*redis.Client); ok && c != r.client {
			_ = r.classify(ctx, nil) // a Cluster node's client has no reachHook: Redis answered
		}
		res, seq, err := r.scriptReply(op, run.Val())
		if err != nil {
			return nil, 0, err
		}
		acked, werr := wait.Result()
		if werr != nil {
			werr = r.classify(ctx, werr)
			return nil, 0, archivist.Errorf(archivist.CodeUnavailable,
				"%s: the Redis master made the write but waiting for %d replica(s) failed (%v): it may not be durable", op, d.replicas, werr)
		}
		if acked < int64(d.replicas) {
			return nil, 0, archivist.Errorf(archivist.CodeUnavailable,
				"%s: the Redis master made the write but only %d of %d replica(s) acknowledged it within %s: it may not be durable (it may be lost if the master fails now)",
				op, acked, d.replicas, timeout)
		}
		return res, seq, nil
	}
}

// masterClient is the client to pipeline a script and its WAIT on: the
// store's own client, or on Redis Cluster the master of the store's hash
// slot (a Cluster pipeline sends a keyless WAIT to any node).
func (r *Redis) masterClient(ctx context.Context) (redis.Cmdable, error) {
	cc, ok := r.client.(*redis.ClusterClient)
	if !ok {
		return r.client, nil
	}
	c, err := cc.MasterForKey(ctx, r.keys.fixed[0])
	if err != nil {
		return nil, r.classify(ctx, err)
	}
	return c, nil
}

// awaitSlotMove reloads the slot map after a MOVED or ASK reply and waits,
// for at most a second, until it names the address the reply gave.
func (r *Redis) awaitSlotMove(ctx context.Context, cc *redis.ClusterClient, moved error) error {
	f := strings.Fields(moved.Error())
	if len(f) < 3 {
		return moved
	}
	addr := f[2]
	deadline := time.Now().Add(time.Second)
	for {
		cc.ReloadState(ctx)
		c, err := cc.MasterForKey(ctx, r.keys.fixed[0])
		if err == nil && c.Options().Addr == addr {
			return nil
		}
		if time.Now().After(deadline) {
			return r.unavailable(moved)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
