package scheduler

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/rpg-archivist/archivist"
)

// ElectorConfig configures an Elector. Zero values mean the defaults.
type ElectorConfig struct {
	Store  archivist.Store
	NodeID string
	// TTL is how long a lease lasts without renewal (default 3s). The
	// elector renews at a third of it, so a dead leader is replaced within
	// TTL plus one renewal period.
	TTL    time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// Elector campaigns for leadership through the store and keeps the current
// lease. Only nodes whose role can lead should run one.
type Elector struct {
	cfg ElectorConfig

	mu      sync.Mutex
	lease   archivist.Lease
	changed chan struct{} // buffered 1: notifications coalesce
	cancel  context.CancelFunc
	done    chan struct{}
	ttl     time.Duration
}

// NewElector returns a stopped elector.
func NewElector(cfg ElectorConfig) *Elector {
	if cfg.TTL <= 0 {
		cfg.TTL = 3 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Elector{cfg: cfg, changed: make(chan struct{}, 1), ttl: cfg.TTL}
}

// Start campaigns once at once, then keeps renewing in the background.
func (e *Elector) Start(ctx context.Context) error {
	e.mu.Lock()
	if e.done != nil {
		e.mu.Unlock()
		return nil
	}
	ctx, e.cancel = context.WithCancel(context.WithoutCancel(ctx))
	e.done = make(chan struct{})
	e.mu.Unlock()
	e.campaign(ctx)
	go e.loop(ctx)
	return nil
}

// Stop ends the campaign and resigns, so that another node takes over at
// once rather than after the lease runs out.
func (e *Elector) Stop(ctx context.Context) error {
	e.mu.Lock()
	cancel, done := e.cancel, e.done
	e.cancel = nil
	e.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	e.mu.Lock()
	e.done = nil
	e.mu.Unlock()
	if e.IsLeader() {
		if err := e.cfg.Store.Resign(ctx, e.cfg.NodeID); err != nil {
			e.cfg.Logger.Warn("resign leadership", "err", err)
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
	if e.lease.HeldBy(e.cfg.NodeID, e.cfg.Now()) {
		return e.lease
	}
	return archivist.Lease{}
}

// IsLeader reports whether this node holds a valid lease now.
func (e *Elector) IsLeader() bool { return e.Lease().Token != 0 }

// Changed is signalled when this node gains or loses leadership.
func (e *Elector) Changed() <-chan struct{} { return e.changed }

func (e *Elector) loop(ctx context.Context) {
	defer close(e.done)
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
			e.cfg.Logger.Warn("leader campaign failed", "err", err)
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
	e.mu.Unlock()
	if was != is || (is && prevToken != lease.Token) {
		if is {
			e.cfg.Logger.Info("this node is now the leader", "token", lease.Token)
		} else if was {
			e.cfg.Logger.Info("this node is no longer the leader", "leader", lease.Holder)
		}
		select {
		case e.changed <- struct{}{}:
		default:
		}
	}
}
