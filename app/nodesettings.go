package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/recurring"
	"github.com/rpg-archivist/archivist/scheduler"
	"github.com/rpg-archivist/archivist/workerpool"
)

// A node's own settings (name, role, workers, capabilities) change at run
// time through updateNode: the store keeps them by node id and records
// node.updated with Detail archivist.NodeSettingsDetail, which the node
// applies at once (watchNodeSettings). At start, the stored settings apply,
// except those given explicitly (flag, ARCHIVIST_* variable or config file
// key), which win and are recorded in their place.
//
// Role changes start and stop parts of the node (roleParts, app/roles.go):
//   - a role that can lead (MASTER, HYBRID) runs an elector and a scheduler;
//     a node that can no longer lead stops them, which resigns leadership at
//     once if it held it;
//   - a role that runs tasks (WORKER, HYBRID) runs a worker pool; a node made
//     MASTER retires its pool: its heartbeat says MASTER, so the leader
//     assigns it nothing new, while the pool keeps running what it runs and
//     claims what was assigned to it before the change (nothing is stranded
//     or released), takes no local work, and stops once the node holds no
//     task for a few checks in a row (retirePool).
//
// A role change builds new parts rather than restarting stopped ones.
// name, caps, workers and draining below, and Main's Pool, Elector,
// Scheduler and role, are read and written under Main.mu.
type nodeState struct {
	// name and capabilities are as the node describes itself; caps nil:
	// none set (any type).
	name string
	caps []string
	// workers is the node's own worker count; 0: the cluster's.
	workers int
	// draining is the Draining flag of the node's last stored heartbeat.
	draining bool
	// flags are the settings given explicitly at start, to record
	// (loadSettings); recorded: they are (Run only).
	flags    archivist.NodeSettings
	recorded bool
}

// nodeFlags are the node settings given explicitly at start.
func (o *Options) nodeFlags() archivist.NodeSettings {
	var s archivist.NodeSettings
	if o.set["name"] {
		s.Name = o.Name
	}
	if o.set["role"] {
		s.Role, _ = o.role()
	}
	if o.set["workers"] {
		s.Workers = o.Workers
	}
	if o.set["capabilities"] {
		s.Capabilities = append([]string{}, o.capabilities()...)
	}
	return s
}

// loadNodeSettings sets the node's name, role, workers and capabilities
// from the stored settings and the flags given explicitly, which win. It
// returns the settings to record once the node is registered (none when the
// store has them already).
func (m *Main) loadNodeSettings(ctx context.Context) (archivist.NodeSettings, error) {
	stored, err := m.Store.NodeSettings(ctx, m.nodeID)
	if err != nil {
		return archivist.NodeSettings{}, err
	}
	flags := m.Opts.nodeFlags()
	eff := stored.Merge(flags)
	m.mu.Lock()
	m.role, _ = m.Opts.role()
	if eff.Role != "" {
		m.role = eff.Role
	}
	m.node.name = m.Opts.Name
	if eff.Name != "" {
		m.node.name = eff.Name
	}
	m.node.caps = m.Opts.capabilities()
	if eff.Capabilities != nil {
		m.node.caps = eff.Capabilities
	}
	m.node.workers = eff.Workers
	m.mu.Unlock()
	if !stored.IsZero() {
		m.Logger.Info("node settings from the store", "stored", settingsAttrs(stored), "flags_given", settingsAttrs(flags))
	}
	if sameSettings(stored, eff) {
		return archivist.NodeSettings{}, nil
	}
	return flags, nil
}

// loadSettings is Run's step that sets the node's own settings
// (loadNodeSettings) and checks that the cluster admits it.
func (m *Main) loadSettings(ctx context.Context) error {
	flags, err := m.loadNodeSettings(ctx)
	if err != nil {
		return fmt.Errorf("read node settings: %w", err)
	}
	m.node.flags = flags
	cfg := m.Settings()
	if self := m.describeStatic(); !cfg.Admits(self) {
		return fmt.Errorf("node %s (%s) is not in the cluster's manual peer list %v: refused; add it with --peers or updateConfig", self.ID, self.Address, cfg.Peers)
	}
	return nil
}

// recordNodeFlags stores the flags given explicitly (m.node.flags), so
// that they are the node's settings from now on. The store takes settings
// for a registered node only: Run calls it before the first heartbeat,
// which records them if the node is still registered from an earlier run
// (so that the first heartbeat, over which the store applies the stored
// settings, already carries them), and again after it, which records them
// otherwise.
func (m *Main) recordNodeFlags(ctx context.Context) {
	flags := m.node.flags
	if flags.IsZero() || m.node.recorded {
		return
	}
	if _, err := m.Store.GetNode(ctx, m.nodeID); archivist.IsCode(err, archivist.CodeNotFound) {
		return // not registered yet: after the first heartbeat
	}
	if _, err := m.Store.SetNodeSettings(ctx, m.nodeID, flags); err != nil {
		m.Logger.Warn("could not record the node settings given at start", "err", err)
		return
	}
	m.node.recorded = true
}

func sameSettings(a, b archivist.NodeSettings) bool {
	return a.Name == b.Name && a.Role == b.Role && a.Workers == b.Workers &&
		(a.Capabilities == nil) == (b.Capabilities == nil) && slices.Equal(a.Capabilities, b.Capabilities)
}

func settingsAttrs(s archivist.NodeSettings) map[string]any {
	out := map[string]any{}
	if s.Name != "" {
		out["name"] = s.Name
	}
	if s.Role != "" {
		out["role"] = s.Role
	}
	if s.Workers != 0 {
		out["workers"] = s.Workers
	}
	if s.Capabilities != nil {
		out["capabilities"] = s.Capabilities
	}
	return out
}

// currentRole is the node's role now.
func (m *Main) currentRole() archivist.NodeRole {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.role
}

func (m *Main) pool() *workerpool.Pool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Pool
}

// localPool is the worker pool as the scheduler sees it: nil when this
// node runs no tasks.
func (m *Main) localPool() scheduler.LocalPool {
	if p := m.pool(); p != nil {
		return p
	}
	return nil
}

func (m *Main) elector() *scheduler.Elector {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Elector
}

func (m *Main) scheduler() *scheduler.Scheduler {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Scheduler
}

// isLeader reports whether this node holds leadership now.
func (m *Main) isLeader() bool {
	e := m.elector()
	return e != nil && e.IsLeader()
}

// nodeName and nodeCapabilities are as the node describes itself.
func (m *Main) nodeName() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.node.name == "" {
		return m.nodeID
	}
	return m.node.name
}

func (m *Main) nodeCapabilities() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.node.caps)
}

// ownWorkers is the node's own worker count, 0 when it follows the
// cluster's.
func (m *Main) ownWorkers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.node.workers
}

// newPool builds a stopped worker pool for this node.
func (m *Main) newPool() *workerpool.Pool {
	p := workerpool.New(workerpool.Config{
		Store: m.Store, Registry: m.Registry, NodeID: m.nodeID, Workers: m.workers(m.Settings()),
		ShutdownGrace: m.Opts.ShutdownGrace, Settings: m.Settings, Observer: m.Metrics, Env: m.env,
	})
	m.mu.Lock()
	m.Pool = p
	m.mu.Unlock()
	return p
}

// startLeading builds and starts an elector, a scheduler and the runner
// of recurring schedules.
func (m *Main) startLeading(ctx context.Context) error {
	cfg := m.Settings()
	e := scheduler.NewElector(scheduler.ElectorConfig{Store: m.Store, NodeID: m.nodeID,
		TTL: leaseTTL(cfg), Env: m.env})
	s := scheduler.New(scheduler.Config{Store: m.Store, Elector: e, Settings: m.Settings, Env: m.env, Local: m.localPool})
	rc := recurring.Config{Store: m.Store, Leader: e, Env: m.env}
	if m.Metrics != nil {
		rc.OnTick = m.Metrics.ScheduleTick
	}
	r := recurring.NewRunner(rc)
	m.mu.Lock()
	m.Elector, m.Scheduler, m.Schedules = e, s, r
	m.mu.Unlock()
	if err := e.Start(ctx); err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	return r.Start(ctx)
}

// stopLeading stops the schedule runner, the scheduler and the elector,
// which resigns leadership if this node holds it.
func (m *Main) stopLeading(ctx context.Context) error {
	m.mu.Lock()
	e, s, r := m.Elector, m.Scheduler, m.Schedules
	m.Elector, m.Scheduler, m.Schedules = nil, nil, nil
	m.mu.Unlock()
	var errs []error
	if r != nil {
		if err := r.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop schedule runner: %w", err))
		}
	}
	if s != nil {
		if err := s.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop scheduler: %w", err))
		}
	}
	if e != nil {
		if err := e.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop elector: %w", err))
		}
	}
	return errors.Join(errs...)
}

// watchNodeSettings applies this node's settings when an event says they
// changed. It runs on the watch goroutine (startWatch).
func (m *Main) watchNodeSettings(ev archivist.Event) {
	if ev.Kind != archivist.EventNode || ev.Type != archivist.EventNodeUpdated || ev.Node == nil ||
		ev.Node.ID != m.nodeID || ev.Detail != archivist.NodeSettingsDetail {
		return
	}
	m.reloadNodeSettings()
}

// reloadNodeSettings reads this node's settings from the store and applies
// them.
func (m *Main) reloadNodeSettings() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := m.Store.NodeSettings(ctx, m.nodeID)
	if err != nil {
		m.Logger.Warn("could not read this node's settings", "err", err)
		return
	}
	m.applyNodeSettings(ctx, s)
}

// applyNodeSettings makes s take effect: name and capabilities from the
// next heartbeat (sent at once), workers at once, a new role as described
// on nodeState.
func (m *Main) applyNodeSettings(ctx context.Context, s archivist.NodeSettings) {
	m.mu.Lock()
	if s.Name != "" {
		m.node.name = s.Name
	}
	capsChanged := s.Capabilities != nil && !slices.Equal(s.Capabilities, m.node.caps)
	if s.Capabilities != nil {
		m.node.caps = slices.Clone(s.Capabilities)
	}
	roleChanged := s.Role != "" && s.Role != m.role
	if s.Workers != 0 {
		m.node.workers = s.Workers
	}
	m.mu.Unlock()
	if s.Role != "" {
		m.roles.set(ctx, s.Role) // app/roles.go
	}
	if p := m.pool(); p != nil {
		p.SetWorkers(m.workers(m.Settings()))
	}
	m.Logger.Info("node settings applied", "settings", settingsAttrs(s))
	if roleChanged || capsChanged {
		m.refreshRecord(ctx) // the mDNS record carries both: app/discovery.go
	}
	if m.Heartbeat != nil {
		m.Heartbeat.Kick()
	}
	if sc := m.scheduler(); sc != nil {
		sc.Wake()
	}
}
