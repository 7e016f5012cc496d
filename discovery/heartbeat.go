package discovery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/lifecycle"
)

// HeartbeatConfig configures a Heartbeater. Zero values mean the defaults.
type HeartbeatConfig struct {
	Store archivist.Store
	// Describe returns this node as it is now (health, load, settings).
	Describe func() *archivist.Node
	// OnStored, if set, gets the node as the store keeps it after each
	// heartbeat (with Draining as set through the API).
	OnStored func(*archivist.Node)
	// Interval between heartbeats (default archivist.DefaultHeartbeatInterval).
	Interval time.Duration
	// Env is where the heartbeater logs, and its clock (the heartbeat's
	// time).
	Env lifecycle.Env
}

// failingRetry is how soon a failed heartbeat is tried again (at most the
// interval).
const failingRetry = time.Second

// Heartbeater writes this node's heartbeat to the store at an interval, and
// removes it from the store on a graceful stop. Its lifecycle.Base gives
// it the Started and Stopped signals; it can be started again after Stop.
type Heartbeater struct {
	lifecycle.Base
	cfg HeartbeatConfig

	mu       sync.Mutex
	interval time.Duration
	kick     chan struct{}
	failing  bool
	// failQuiet: the last failure was the store out of reach.
	failQuiet bool
	// registered: a Start registered the node and no Stop removed it yet.
	registered bool
}

// NewHeartbeater returns a stopped heartbeater.
func NewHeartbeater(cfg HeartbeatConfig) *Heartbeater {
	if cfg.Interval <= 0 {
		cfg.Interval = archivist.DefaultHeartbeatInterval
	}
	cfg.Env = cfg.Env.WithDefaults()
	return &Heartbeater{cfg: cfg, interval: cfg.Interval, kick: make(chan struct{}, 1)}
}

// Start sends a first heartbeat, within ctx (returning its error: a node
// that cannot register should not start), and then keeps beating until
// Stop. Idempotent; a stopped heartbeater starts again.
func (h *Heartbeater) Start(ctx context.Context) error {
	return h.Base.Start(ctx, func(context.Context) error {
		if err := h.beat(ctx); err != nil {
			return err
		}
		h.mu.Lock()
		h.registered = true
		h.mu.Unlock()
		return nil
	}, h.loop)
}

// Stop ends the heartbeats and deregisters the node, within ctx.
// Idempotent: a Stop that gave up waiting leaves the node to the next
// Stop to deregister.
func (h *Heartbeater) Stop(ctx context.Context) error {
	if err := h.Base.Stop(ctx); err != nil {
		return err
	}
	h.mu.Lock()
	registered := h.registered
	h.registered = false
	h.mu.Unlock()
	if !registered {
		return nil
	}
	n := h.cfg.Describe()
	if err := h.cfg.Store.RemoveNode(ctx, n.ID); err != nil && !archivist.IsCode(err, archivist.CodeNotFound) {
		h.mu.Lock()
		h.registered = true // the next Stop tries again
		h.mu.Unlock()
		return err
	}
	return nil
}

// SetInterval changes the heartbeat interval from the next beat on.
func (h *Heartbeater) SetInterval(d time.Duration) {
	if d <= 0 {
		return
	}
	h.mu.Lock()
	h.interval = d
	h.mu.Unlock()
	h.Kick()
}

// Kick sends a heartbeat now, as when the node's state changed.
func (h *Heartbeater) Kick() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// loop beats every interval, and at once on a Kick, until ctx ends.
func (h *Heartbeater) loop(ctx context.Context) {
	for {
		h.mu.Lock()
		iv := h.interval
		if h.failing {
			// Beat again soon: when the store is back, the node shows
			// up as alive at once, not an interval later.
			iv = min(iv, failingRetry)
		}
		h.mu.Unlock()
		t := time.NewTimer(iv)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-h.kick:
			t.Stop()
		}
		if err := h.beat(ctx); err != nil && ctx.Err() == nil {
			h.mu.Lock()
			first := !h.failing
			h.failing = true
			// The store logs its own outage once (UNAVAILABLE): then
			// this node's heartbeats coming back is no news either.
			h.failQuiet = archivist.IsCode(err, archivist.CodeUnavailable)
			h.mu.Unlock()
			if first {
				h.cfg.Env.Logger.Error("heartbeat failed; retrying", "err", err)
			}
		}
	}
}

func (h *Heartbeater) beat(ctx context.Context) error {
	n := h.cfg.Describe()
	h.mu.Lock()
	n.Interval = h.interval
	h.mu.Unlock()
	n.LastHeartbeat = h.cfg.Env.Now()
	stored, err := h.cfg.Store.Heartbeat(ctx, n)
	if err != nil {
		return err
	}
	h.mu.Lock()
	if h.failing {
		level := slog.LevelInfo
		if h.failQuiet {
			level = slog.LevelDebug
		}
		h.cfg.Env.Logger.Log(ctx, level, "heartbeats are back")
	}
	h.failing = false
	h.mu.Unlock()
	if h.cfg.OnStored != nil {
		h.cfg.OnStored(stored)
	}
	return nil
}
