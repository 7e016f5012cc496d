package scheduler

import (
	"context"
	"sync"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/lifecycle"
)

// defaultLeaseTTL is ElectorConfig.TTL's default.
const defaultLeaseTTL = 3 * time.Second

// ElectorConfig configures an Elector. Zero values mean the defaults.
type ElectorConfig struct {
	Store  archivist.Store
	NodeID string
	// TTL is how long a lease lasts without renewal (default
	// defaultLeaseTTL, 3s). The elector renews at a third of it, so a dead
	// leader is replaced within TTL plus one renewal period.
	TTL time.Duration
	// Env is where the elector logs leadership changes, and its clock
	// (lifecycle.Env's defaults).
	Env lifecycle.Env
}

// Elector campaigns for leadership through the store and keeps the current
// lease. Only nodes whose role can lead should run one. Its lifecycle is a
// lifecycle.Base: Start is idempotent, and a stopped elector starts again.
type Elector struct {
	lifecycle.Base
	cfg ElectorConfig

	mu      sync.Mutex
	lease   archivist.Lease
	changed chan struct{} // buffered 1: notifications coalesce
	// watchers are the channels of Watch, signalled with changed.
	watchers []chan struct{}
	ttl      time.Duration
}

// NewElector returns a stopped elector.
func NewElector(cfg ElectorConfig) *Elector {
	if cfg.TTL <= 0 {
		cfg.TTL = defaultLeaseTTL
	}
	cfg.Env = cfg.Env.WithDefaults()
	return &Elector{cfg: cfg, changed: make(chan struct{}, 1), ttl: cfg.TTL}
}

// Start campaigns once before it returns (so a lone node leads at once),
// then keeps renewing in the background until Stop.
func (e *Elector) Start(ctx context.Context) error {
	return e.Base.Start(ctx, func(ctx context.Context) error {
		e.campaign(ctx)
		return nil
	}, e.loop)
}

// Stop ends the campaign and resigns, so that another node takes over at
// once rather than after the lease runs out. If ctx ends before the
// campaign has wound down, Stop returns an error and this node stops
// claiming leadership (Lease is zero) without resigning: a renewal still
// in flight could follow the resignation, so the lease is left to run out.
func (e *Elector) Stop(ctx context.Context) error {
	if err := e.Base.Stop(ctx); err != nil {
		e.set(archivist.Lease{})
		return err
	}
	if e.IsLeader() {
		if err := e.cfg.Store.Resign(ctx, e.cfg.NodeID); err != nil {
			e.cfg.Env.Logger.Warn("resign leadership", "err", err)
		}
	}
	e.set(archivist.Lease{})
	return nil
}

// SetTTL changes the lease length (it follows the heartbeat interval).
func (e *Elector) SetTTL(ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	e.mu.Lock()
	e.ttl = ttl
	e.mu.Unlock()
}

// Lease is the lease this node holds, or a zero lease.
func (e *Elector) Lease() archivist.Lease {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.lease.HeldBy(e.cfg.NodeID, e.cfg.Env.Now()) {
		return e.lease
	}
	return archivist.Lease{}
}

// IsLeader reports whether this node holds a valid lease now.
func (e *Elector) IsLeader() bool { return e.Lease().Token != 0 }

// Changed is signalled when this node gains or loses leadership. It is the
// scheduler's: a second reader would take its signals (see Watch).
func (e *Elector) Changed() <-chan struct{} { return e.changed }

// Watch returns a new channel signalled, like Changed, when this node
// gains or loses leadership (buffered 1: signals coalesce), for a part
// other than the scheduler that acts only while leading.
func (e *Elector) Watch() <-chan struct{} {
	ch := make(chan struct{}, 1)
	e.mu.Lock()
	e.watchers = append(e.watchers, ch)
	e.mu.Unlock()
	return ch
}

func (e *Elector) loop(ctx context.Context) {
	for {
		e.mu.Lock()
		period := e.ttl / 3
		e.mu.Unlock()
		t := time.NewTimer(period)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		e.campaign(ctx)
	}
}

func (e *Elector) campaign(ctx context.Context) {
	e.mu.Lock()
	ttl := e.ttl
	e.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, ttl)
	lease, err := e.cfg.Store.Campaign(cctx, e.cfg.NodeID, ttl)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			e.cfg.Env.Logger.Warn("leader campaign failed", "err", err)
		}
		// Keep what we had: it stays valid until it expires, and Lease()
		// checks the expiry.
		return
	}
	e.set(lease)
}

func (e *Elector) set(lease archivist.Lease) {
	e.mu.Lock()
	was := e.lease.Holder == e.cfg.NodeID && e.lease.Token != 0
	is := lease.Holder == e.cfg.NodeID && lease.Token != 0
	prevToken := e.lease.Token
	e.lease = lease
	watchers := e.watchers
	e.mu.Unlock()
	if was != is || (is && prevToken != lease.Token) {
		if is {
			e.cfg.Env.Logger.Info("this node is now the leader", "token", lease.Token)
		} else if was {
			e.cfg.Env.Logger.Info("this node is no longer the leader", "leader", lease.Holder)
		}
		for _, ch := range append([]chan struct{}{e.changed}, watchers...) {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}
