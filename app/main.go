package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/alert"
	"github.com/rpg-archivist/archivist/cli"
	"github.com/rpg-archivist/archivist/dashboard"
	"github.com/rpg-archivist/archivist/discovery"
	"github.com/rpg-archivist/archivist/graph"
	"github.com/rpg-archivist/archivist/health"
	"github.com/rpg-archivist/archivist/scheduler"
	"github.com/rpg-archivist/archivist/server"
	"github.com/rpg-archivist/archivist/store"
	"github.com/rpg-archivist/archivist/tasks"
	"github.com/rpg-archivist/archivist/workerpool"
)

// ParseOptions reads the options of `archivist serve` from args, the
// environment (getenv) and the --config file; usage goes to out.
func ParseOptions(args []string, getenv func(string) string, out io.Writer) (*Options, error) {
	return parseServe(args, getenv, out)
}

// Main is one node: it builds the parts from Options, starts them in order
// and stops them in reverse. Tests boot it on port 0.
type Main struct {
	Opts     *Options
	Logger   *slog.Logger
	Registry *archivist.Registry

	Store     archivist.Store
	Monitor   *health.Monitor
	Heartbeat *discovery.Heartbeater
	Elector   *scheduler.Elector
	Scheduler *scheduler.Scheduler
	Pool      *workerpool.Pool
	Server    *server.Server
	Metrics   *server.Metrics
	Alerts    *alert.Evaluator
	// mdns is the mDNS discovery the node runs now (app/discovery.go).
	mdns mdnsRun

	nodeID    string
	role      archivist.NodeRole // under mu: it changes at run time (nodesettings.go)
	node      nodeState
	startedAt time.Time
	// proof is the admission proof of the heartbeats (admission.go).
	proofOnce sync.Once
	proof     string

	mu       sync.Mutex
	settings archivist.Config
	watch    context.CancelFunc
	watchWG  sync.WaitGroup
	closed   bool
}

// NewMain returns a node that is not started. Register more task types in
// m.Registry before Run.
func NewMain(opts *Options, logger *slog.Logger) *Main {
	reg := archivist.NewRegistry()
	tasks.Register(reg)
	return &Main{Opts: opts, Logger: logger, Registry: reg}
}

// Settings is the cluster configuration this node runs with.
func (m *Main) Settings() archivist.Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.settings
}

// Run opens the store, reconciles the configuration and starts every part.
// It returns once the node serves.
func (m *Main) Run(ctx context.Context) error {
	o := m.Opts
	m.role, _ = o.role()
	m.startedAt = time.Now()
	m.nodeID = o.NodeID
	if m.nodeID == "" {
		m.nodeID = defaultNodeID(o.HTTP)
	}
	log := quietLogger(m.Logger).With("node", m.nodeID) // app/storehealth.go
	m.Logger = log

	if m.zeroConfig() {
		if err := m.joinByMDNS(ctx); err != nil {
			return err
		}
	}
	o.Store = withStorePassword(o.Store, o.StorePassword)
	st, err := openStore(ctx, o, log)
	if err != nil {
		return err
	}
	m.Store = st
	if b, ok := st.(*store.Bolt); ok {
		log.Info("embedded store", "path", b.Path())
	}
	if err := m.reconcileConfig(ctx); err != nil {
		return err
	}
	if err := m.admit(ctx); err != nil { // cluster secret: app/admission.go
		return err
	}
	record, err := m.loadNodeSettings(ctx) // app/nodesettings.go
	if err != nil {
		return fmt.Errorf("read node settings: %w", err)
	}
	cfg := m.Settings()
	if self := m.describeStatic(); !cfg.Admits(self) {
		return fmt.Errorf("node %s (%s) is not in the cluster's manual peer list %v: refused; add it with --peers or updateConfig", self.ID, self.Address, cfg.Peers)
	}

	m.Monitor = health.NewMonitor(health.MonitorConfig{
		Interval:   o.HealthInterval,
		Thresholds: m.thresholds(cfg),
		Logger:     log,
		OnChange: func(archivist.Health, bool) {
			if m.Heartbeat != nil {
				m.Heartbeat.Kick()
			}
		},
	})
	m.Metrics = server.NewMetrics(server.StateSource{
		Store:  st,
		Health: m.Monitor.Current,
		Active: func() int {
			if p := m.pool(); p != nil {
				return p.Active()
			}
			return 0
		},
		Leader: m.isLeader,
	})
	if m.currentRole().RunsTasks() {
		m.newPool()
	}
	if err := m.Monitor.Start(ctx); err != nil {
		return err
	}
	m.recordNodeFlags(ctx, record) // if still registered: before the first heartbeat
	m.Heartbeat = discovery.NewHeartbeater(discovery.HeartbeatConfig{
		Store: st, Describe: m.describe, OnStored: m.onStored, Interval: cfg.HeartbeatInterval, Logger: log,
	})
	if err := m.Heartbeat.Start(ctx); err != nil {
		return fmt.Errorf("register node: %w", err)
	}
	m.recordNodeFlags(ctx, record)
	if m.currentRole().CanLead() {
		if err := m.startLeading(ctx); err != nil {
			return err
		}
	}
	if p := m.pool(); p != nil {
		if err := p.Start(ctx); err != nil {
			return err
		}
	}
	if err := m.startWatch(ctx); err != nil {
		return err
	}

	m.Alerts = alert.New(alert.Config{Store: st, Rules: o.AlertRules, Settings: m.Settings,
		IsLeader: m.isLeader,
		Webhooks: cli.SplitList(o.AlertWebhooks), Logger: log})
	if err := m.Alerts.Start(ctx); err != nil {
		return err
	}
	resolver := &graph.Resolver{Store: st, Registry: m.Registry, Logger: log, OnSubmitted: m.submitted, Alerts: m.Alerts,
		Security: graph.Security{AuthRequired: o.authRequired(), Insecure: o.insecure(), TLS: o.tls().Enabled()}}
	origins := cli.SplitList(o.AllowedOrigins)
	hopts := graph.HandlerOptions{
		Keys:                          o.keys,
		DisableIntrospection:          o.NoIntrospection,
		WebsocketOriginPatterns:       origins,
		MaxWebsockets:                 o.MaxWebsockets,
		MaxPendingWebsockets:          o.MaxPendingWS,
		MaxSubscriptionsPerConnection: o.MaxSubs,
		RateLimit:                     o.RateLimit,
		RateBurst:                     o.RateBurst,
		MaxResponseBytes:              o.MaxResponse,
	}
	// Automatic persisted queries live in the store: on Redis a query
	// registered through one node is known to all.
	if qc, ok := st.(archivist.QueryCache); ok {
		hopts.PersistedQueries = graph.StoreQueryCache(qc)
	}
	hopts.Metrics = m.Metrics
	gql := graph.NewHandler(resolver, hopts)
	srv := server.New(server.Config{
		Addr:              o.HTTP,
		GraphQL:           graph.WithAuth(gql, o.keys),
		TLS:               o.tls(),
		AllowedOrigins:    origins,
		LoopbackHostsOnly: !o.authRequired() && !o.insecure(),
		Keys:              o.keys,
		PublicMetrics:     o.PublicMetrics,
		Dashboard:         dashboard.Handler(),
		Metrics:           m.Metrics,
		Ready:             m.ready,
		DisablePlayground: o.NoPlayground,
		BodyTimeout:       o.BodyTimeout,
		Logger:            log,
	})
	// Under mu: the heartbeat goroutine (describe) reads it.
	m.mu.Lock()
	m.Server = srv
	m.mu.Unlock()
	if err := m.Server.Start(ctx); err != nil {
		return fmt.Errorf("listen on %s: %w", o.HTTP, err)
	}
	if err := m.startMDNS(ctx, cfg); err != nil {
		return err
	}
	url := m.Server.URL()
	log.Info("node started", "role", m.currentRole(), "workers", m.workers(cfg), "store", redactStore(o.Store),
		"auth", authMode(o), "dashboard", url+"/", "playground", url+"/playground")
	if o.insecure() {
		log.Warn(graph.InsecureWarning)
	}
	return nil
}

// workers is how many attempts this node runs: its own number if it has
// one (updateNode, or --workers given at a start), else the cluster's.
func (m *Main) workers(c archivist.Config) int {
	if own := m.ownWorkers(); own > 0 {
		return own
	}
	return c.Workers
}

// thresholds are the cluster's, with the ones given to this node instead.
func (m *Main) thresholds(c archivist.Config) archivist.Thresholds {
	return m.Opts.thresholds(c.Thresholds)
}

// leaseTTL: a dead leader is replaced within about three heartbeats.
func leaseTTL(cfg archivist.Config) time.Duration {
	return 2 * cfg.HeartbeatInterval
}

// reconcileConfig loads the cluster configuration. The first node of a
// cluster writes it from its options. Later, on the embedded store (one
// node), options given explicitly change what is stored; on a shared store
// the stored configuration wins (change it with updateConfig), and a node
// whose options differ says so.
func (m *Main) reconcileConfig(ctx context.Context) error {
	for range 5 {
		cur, err := m.Store.Config(ctx)
		if err != nil {
			return fmt.Errorf("read cluster config: %w", err)
		}
		given := m.Opts.givenClusterKeys()
		shared := isRedis(m.Opts.Store)
		if cur.Version > 0 && (len(given) == 0 || shared) {
			if want, err := m.Opts.settings(cur); err == nil && shared && !sameConfig(want, cur) {
				m.Logger.Warn("options differ from the cluster's stored config, which wins for cluster-wide settings; change it with updateConfig",
					"options", given, "config_version", cur.Version)
			}
			m.setSettings(cur)
			return nil
		}
		want, err := m.Opts.settings(cur)
		if err != nil {
			return err
		}
		if cur.Version > 0 && sameConfig(want, cur) {
			m.setSettings(cur)
			return nil
		}
		want.UpdatedBy = m.nodeID
		saved, err := m.Store.UpdateConfig(ctx, want, cur.Version)
		if archivist.IsCode(err, archivist.CodeConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("write cluster config: %w", err)
		}
		m.setSettings(saved)
		return nil
	}
	return errors.New("cluster config keeps changing under us; try again")
}

// sameConfig compares the settings of two configs, not their metadata.
func sameConfig(a, b archivist.Config) bool {
	a.Version, a.UpdatedAt, a.UpdatedBy = 0, time.Time{}, ""
	b.Version, b.UpdatedAt, b.UpdatedBy = 0, time.Time{}, ""
	return reflect.DeepEqual(a, b)
}

func (m *Main) setSettings(c archivist.Config) {
	m.mu.Lock()
	m.settings = c
	m.mu.Unlock()
}

// startWatch applies configuration changes made through the API.
func (m *Main) startWatch(ctx context.Context) error {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	sub, err := m.Store.Subscribe(wctx, 0)
	if err != nil {
		cancel()
		return err
	}
	m.watch = cancel
	m.watchWG.Add(1)
	go func() {
		defer m.watchWG.Done()
		for wctx.Err() == nil {
			for ev := range sub.C() {
				if ev.Kind == archivist.EventConfig && ev.Config != nil {
					m.apply(*ev.Config)
				}
				m.watchNodeSettings(ev) // app/nodesettings.go
			}
			if wctx.Err() != nil {
				return
			}
			// Dropped for being slow: resubscribe and re-read the config.
			if s, err := m.Store.Subscribe(wctx, 0); err == nil {
				sub = s
				if c, err := m.Store.Config(wctx); err == nil {
					m.apply(c)
				}
				m.reloadNodeSettings()
			} else {
				select {
				case <-wctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	}()
	return nil
}

// apply makes a new configuration take effect on this node.
func (m *Main) apply(c archivist.Config) {
	old := m.Settings()
	if c.Version <= old.Version {
		return
	}
	m.setSettings(c)
	m.Logger.Info("applying cluster config", "version", c.Version)
	if p := m.pool(); p != nil {
		p.SetWorkers(m.workers(c))
	}
	m.Monitor.SetThresholds(m.thresholds(c))
	m.applyDiscovery(context.Background(), c) // app/discovery.go
	if c.HeartbeatInterval != old.HeartbeatInterval {
		m.Heartbeat.SetInterval(c.HeartbeatInterval)
		if e := m.elector(); e != nil {
			e.SetTTL(leaseTTL(c))
		}
	}
	m.Heartbeat.Kick()
	if sc := m.scheduler(); sc != nil {
		sc.Wake()
	}
}

// describeStatic is the node's identity before it serves.
func (m *Main) describeStatic() *archivist.Node {
	return &archivist.Node{ID: m.nodeID, Address: m.Opts.HTTP, Role: m.currentRole()}
}

// describe is this node as its heartbeat tells it.
func (m *Main) describe() *archivist.Node {
	cfg := m.Settings()
	h, busy := m.Monitor.Current()
	n := &archivist.Node{
		ID: m.nodeID, Name: m.nodeName(), Role: m.currentRole(), Capabilities: m.nodeCapabilities(),
		Discovery: m.discoveryMethod(cfg), Version: Version, Busy: busy, Local: !cfg.Enabled,
		ConfigVersion: cfg.Version, Health: h, StartedAt: m.startedAt,
		AdmissionProof: m.admissionProof(), // app/admission.go
	}
	m.mu.Lock()
	srv := m.Server
	m.mu.Unlock()
	if srv != nil {
		n.Address = srv.Addr()
	} else {
		n.Address = m.Opts.HTTP
	}
	if p := m.pool(); p != nil {
		n.Workers = p.Workers()
		n.ActiveTasks = p.Active()
		n.TaskTypes = m.Registry.Types()
	}
	return n
}

// submitted runs tasks submitted through this node here when distributed
// processing is off.
func (m *Main) submitted(_ context.Context, cfg archivist.Config, ts []*archivist.Task) {
	p := m.pool()
	if cfg.Enabled || p == nil || !m.currentRole().RunsTasks() {
		return
	}
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	p.RunLocal(ids...)
}

// onStored follows the Draining flag set through the API. A draining node
// still starts what was assigned to it before the drain (the leader assigns
// it nothing new); it stops taking local work.
func (m *Main) onStored(n *archivist.Node) {
	m.mu.Lock()
	m.node.draining = n.Draining
	p, runs := m.Pool, m.role.RunsTasks()
	m.mu.Unlock()
	if p != nil {
		p.SetPaused(n.Draining || !runs) // a retiring pool takes no local work
	}
}

// ready: the store answers. One out of reach says which store it is
// (UNAVAILABLE's message), never its password.
func (m *Main) ready(ctx context.Context) error {
	if _, err := m.Store.Leader(ctx); err != nil {
		return fmt.Errorf("store: %v", archivist.ErrorMessageOf(err))
	}
	return nil
}

// Close stops the parts in reverse order: no new work, running tasks get
// their grace period, then the node leaves and the store closes.
// Idempotent.
func (m *Main) Close(ctx context.Context) error {
	m.endRoleChanges() // app/nodesettings.go
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	var errs []error
	stop := func(name string, f func(context.Context) error) {
		if err := f(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", name, err))
		}
	}
	// First withdraw the mDNS record: no one should join through a node
	// that is leaving.
	stop("mDNS discovery", m.stopMDNS)
	if m.Scheduler != nil {
		stop("scheduler", m.Scheduler.Stop)
	}
	if m.Elector != nil {
		stop("elector", m.Elector.Stop)
	}
	if m.Pool != nil {
		stop("worker pool", m.Pool.Stop)
	}
	if m.watch != nil {
		m.watch()
		m.watchWG.Wait()
	}
	if m.Heartbeat != nil {
		stop("heartbeat", m.Heartbeat.Stop)
	}
	if m.Server != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		errs = append(errs, m.Server.Stop(sctx))
		cancel()
	}
	if m.Alerts != nil {
		stop("alerts", m.Alerts.Stop)
	}
	if m.Monitor != nil {
		stop("health monitor", m.Monitor.Stop)
	}
	if m.Store != nil {
		errs = append(errs, m.Store.Close())
	}
	return errors.Join(errs...)
}

// defaultNodeID is the host name and the HTTP port: stable across restarts,
// so that a restarted node recognises the tasks it had started.
func defaultNodeID(httpAddr string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	host = archivist.SanitizeNodeID(strings.ToLower(host))
	_, port, _ := net.SplitHostPort(httpAddr)
	if port == "" || port == "0" {
		return host
	}
	return archivist.SanitizeNodeID(host[:min(len(host), archivist.MaxNodeIDLen-6)] + "-" + port)
}
