package store

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Failover. When the master that holds a cluster's slot dies, Redis Cluster
// promotes its replica within about two seconds (with a short
// cluster-node-timeout), and Sentinel within about as long. go-redis left to
// itself does not notice on Redis Cluster: a dead master answers with
// refused or timed-out connections, not MOVED, and go-redis reloads its slot
// map only on MOVED, ASK and READONLY replies, or when the map is older than
// ClusterStateReloadInterval (60s) at the next command. Until then every
// command dials the dead master again: queries fail, no task moves,
// heartbeats lapse, for close to a minute. Its pools also retry a failed
// dial 5 times with a 5s timeout each, so that behind a host that silently
// drops packets one slot-map reload that tries the dead node first could
// wait 25s.
//
// So the clients the store makes reload their slot map whenever a command
// fails as if its server were gone (a connection error, a timeout,
// CLUSTERDOWN, TRYAGAIN, MASTERDOWN, LOADING), and dial with a shorter
// timeout and one retry. go-redis runs one reload at a time and waits 200ms
// between reloads, so an outage costs at most five CLUSTER SLOTS a second
// per client, and while commands keep failing (heartbeats, the stream
// reader and the workers retry on their own) the map is reloaded until it
// names the promoted replica. Nothing changes for a command that succeeds:
// no round trip is added. Sentinel needs no help: the failover client asks
// a sentinel for the master at each new connection, and drops its
// connections when the sentinels announce +switch-master.

// Dial defaults for the clients the store makes from a URL or addresses
// (where the URL sets none).
const (
	// RedisDialTimeout bounds one dial, TLS handshake included (go-redis's
	// default is 5s).
	RedisDialTimeout = 2 * time.Second
	// RedisDialerRetries is how many times one connection is dialled before
	// the command fails (go-redis's default is 5; the command is retried
	// anyway, after a slot-map reload on Redis Cluster).
	RedisDialerRetries = 2
	// RedisReadTimeout bounds the wait for one reply, and
	// RedisWriteTimeout one write (go-redis's default is 3s for both). A
	// master that went silent (a host gone, a network cut) holds each
	// command this long, and go-redis tries the same server once more
	// before it asks the slot map again. The store's scripts take
	// milliseconds; a blocking read (XREAD BLOCK) gets its block time on
	// top.
	RedisReadTimeout  = 2 * time.Second
	RedisWriteTimeout = 2 * time.Second
)

// tuneFailover sets the store's dial defaults on options left at zero.
func tuneFailover(o *redis.UniversalOptions) {
	if o.DialTimeout == 0 {
		o.DialTimeout = RedisDialTimeout
	}
	if o.DialerRetries == 0 {
		o.DialerRetries = RedisDialerRetries
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = RedisReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = RedisWriteTimeout
	}
}

// watchFailover makes a Cluster client reload its slot map when a command
// fails as if its server were gone: after each failed attempt on a node
// (the client then retries on the node the new map names) and after a
// command that failed for good. Other clients are left alone. Call it
// before the client's first command, so that every node gets the hook.
func watchFailover(client redis.UniversalClient) {
	cc, ok := client.(*redis.ClusterClient)
	if !ok {
		return
	}
	h := reloadHook{reload: func() { cc.ReloadState(context.Background()) }}
	cc.AddHook(h)
	cc.OnNewNode(func(node *redis.Client) { node.AddHook(h) })
}

// reloadHook calls reload after a command or pipeline fails with a
// serverGone error.
type reloadHook struct{ reload func() }

// DialHook passes dials through: a failed dial fails its command, which
// ProcessHook sees.
func (h reloadHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil && serverGone(err) {
			h.reload()
		}
		return err
	}
}

func (h reloadHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err != nil && serverGone(err) {
			h.reload()
		}
		return err
	}
}

// serverGone reports whether err says that the server a command went to is
// unreachable or no longer serves the slot, rather than that the command
// itself failed (a script's error, a missing key) or that the caller gave
// up (a cancelled context): the store's one rule for it (unreachable, in
// redis_unavailable.go), less a client that was closed on purpose.
func serverGone(err error) bool {
	return !errors.Is(err, redis.ErrClosed) && unreachable(err)
}
