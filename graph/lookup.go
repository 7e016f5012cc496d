package graph

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/rpg-archivist/archivist"
)

// lookups memoises, for one response, the reads that many objects of a
// response share: the configuration and the leadership lease (for the status
// and isLeader of every node) and the nodes that tasks point to. Without it a
// list of n nodes would read the store 2n times; over Redis each read is a
// round trip. One response of a subscription is one event, so a long-lived
// subscription never sees a stale value for longer than one event.
//
// The clock is read once too, so that every node of a response is judged at
// the same instant.
type lookups struct {
	now time.Time

	mu        sync.Mutex
	cfg       *archivist.Config
	lease     *archivist.Lease
	nodes     map[string]*archivist.Node // nil value: not found
	nodeCalls map[string]*nodeCall
}

// nodeCall is one GetNode in flight, shared by the resolvers that ask for
// the same node at the same time.
type nodeCall struct {
	done chan struct{}
	node *archivist.Node
	err  error
}

type lookupsKey struct{}

// withLookups returns ctx with a fresh memo for one response.
func (r *Resolver) withLookups(ctx context.Context) context.Context {
	return context.WithValue(ctx, lookupsKey{}, &lookups{now: r.clock()})
}

func lookupsFrom(ctx context.Context) *lookups {
	l, _ := ctx.Value(lookupsKey{}).(*lookups)
	return l
}

func (r *Resolver) clock() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// now is the instant the current response is computed at.
func (r *Resolver) now(ctx context.Context) time.Time {
	if l := lookupsFrom(ctx); l != nil {
		return l.now
	}
	return r.clock()
}

func (r *Resolver) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (r *Resolver) events() EventSource {
	if r.Events != nil {
		return r.Events
	}
	return r.Store
}

// config returns the stored configuration, read once per response.
func (r *Resolver) config(ctx context.Context) (archivist.Config, error) {
	l := lookupsFrom(ctx)
	if l == nil {
		return r.Store.Config(ctx)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg == nil {
		cfg, err := r.Store.Config(ctx)
		if err != nil {
			return cfg, err
		}
		l.cfg = &cfg
	}
	return *l.cfg, nil
}

// leader returns the leadership lease, read once per response.
func (r *Resolver) leader(ctx context.Context) (archivist.Lease, error) {
	l := lookupsFrom(ctx)
	if l == nil {
		return r.Store.Leader(ctx)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lease == nil {
		lease, err := r.Store.Leader(ctx)
		if err != nil {
			return lease, err
		}
		l.lease = &lease
	}
	return *l.lease, nil
}

// nodeOrNil returns the node with id, or nil when the store has none, read
// once per response and id. Concurrent callers for one id share one read.
func (r *Resolver) nodeOrNil(ctx context.Context, id string) (*archivist.Node, error) {
	l := lookupsFrom(ctx)
	if l == nil {
		return r.getNode(ctx, id)
	}
	l.mu.Lock()
	if n, ok := l.nodes[id]; ok {
		l.mu.Unlock()
		return n, nil
	}
	if c, ok := l.nodeCalls[id]; ok {
		l.mu.Unlock()
		select {
		case <-c.done:
			return c.node, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &nodeCall{done: make(chan struct{})}
	if l.nodeCalls == nil {
		l.nodeCalls = map[string]*nodeCall{}
	}
	l.nodeCalls[id] = c
	l.mu.Unlock()

	c.node, c.err = r.getNode(ctx, id)
	l.mu.Lock()
	delete(l.nodeCalls, id)
	if c.err == nil {
		if l.nodes == nil {
			l.nodes = map[string]*archivist.Node{}
		}
		l.nodes[id] = c.node
	}
	l.mu.Unlock()
	close(c.done)
	return c.node, c.err
}

func (r *Resolver) getNode(ctx context.Context, id string) (*archivist.Node, error) {
	n, err := r.Store.GetNode(ctx, id)
	if archivist.IsCode(err, archivist.CodeNotFound) {
		return nil, nil
	}
	return n, err
}

// rememberConfig records the configuration a mutation stored, so that the
// fields after it in the same response see it.
func rememberConfig(ctx context.Context, cfg archivist.Config) {
	if l := lookupsFrom(ctx); l != nil {
		l.mu.Lock()
		l.cfg = &cfg
		l.mu.Unlock()
	}
}

// forgetNode records that a mutation removed the node with id.
func forgetNode(ctx context.Context, id string) {
	if l := lookupsFrom(ctx); l != nil {
		l.mu.Lock()
		if l.nodes == nil {
			l.nodes = map[string]*archivist.Node{}
		}
		l.nodes[id] = nil
		l.mu.Unlock()
	}
}

// rememberNodes records nodes already read (by nodes, say) or changed (by a
// mutation), so that the fields of the same response that point to them do
// not read them again, and see them as changed.
func rememberNodes(ctx context.Context, nodes ...*archivist.Node) {
	l := lookupsFrom(ctx)
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.nodes == nil {
		l.nodes = make(map[string]*archivist.Node, len(nodes))
	}
	for _, n := range nodes {
		if n != nil {
			l.nodes[n.ID] = n
		}
	}
}
