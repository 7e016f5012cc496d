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
	"github.com/rpg-archivist/archivist/lifecycle"
	"github.com/rpg-archivist/archivist/recurring"
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

// Main is one node: the list of its parts (Run), started in order and
// stopped in reverse (Close). Tests boot it on port 0.
type Main struct {
	Opts     *Options
	Logger   *slog.Logger
	Registry *archivist.Registry

	Store     archivist.Store
	Monitor   *health.Monitor
	Heartbeat *discovery.Heartbeater
	Elector   *scheduler.Elector
	Scheduler *scheduler.Scheduler
	// Schedules fires the ticks of recurring schedules while this node
	// leads (recurring.Runner); it runs beside the scheduler.
	Schedules *recurring.Runner
	Pool      *workerpool.Pool
	Server    *server.Server
	Metrics   *server.Metrics
	Alerts    *alert.Evaluator

	// env is what every part shares: the node's logger and clock.
	env lifecycle.Env
	// group is the node's parts in the order Run starts them.
	group lifecycle.Group
	// roles are the parts the node's role decides (app/roles.go), watch
	// the config watch, mdns the mDNS discovery the node runs now
	// (app/discovery.go).
	roles roleParts
	watch configWatch
	mdns  mdnsRun

	nodeID    string
	role      archivist.NodeRole // under mu: it changes at run time (nodesettings.go)
	node      nodeState
	startedAt time.Time
	// proof is the admission proof of the heartbeats (admission.go).
	proofOnce sync.Once
	proof     string

	mu       sync.Mutex
	settings archivist.Config
	// stored is the newest configuration this node stored through its API
	// (under mu): submissions are checked against it or settings, the
	// newer, before the configuration watcher applies it.
	stored archivist.Config
}

// NewMain returns a node that is not started. Register more task types in
// m.Registry before Run.
func NewMain(opts *Options, logger *slog.Logger) *Main {
	reg := archivist.NewRegistry()
	tasks.Register(reg)
	m := &Main{Opts: opts, Logger: logger, Registry: reg, env: lifecycle.Env{Logger: logger}.WithDefaults()}
	m.roles.m, m.watch.m, m.mdns.m = m, m, m
	return m
}

// Settings is the cluster configuration this node runs with.
func (m *Main) Settings() archivist.Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.settings
}

// submitSettings is the configuration submissions through this node are
// checked against: the one it runs with, or a newer one it stored through
// its API and has not applied yet.
func (m *Main) submitSettings() archivist.Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stored.Version > m.settings.Version {
		return m.stored
	}
	return m.settings
}

// storedConfig notes a configuration stored through this node's API. Only
// the configuration watcher applies it (apply is not safe to run beside
// itself); submissions use it at once.
func (m *Main) storedConfig(c archivist.Config) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.Version > m.stored.Version {
		m.stored = c
	}
}

// Run starts the node, in two stages: first what its parts are built from
// (the store, the cluster's configuration and the node's own settings),
// then the parts. It returns once the node serves. On an error, what
// started is left running: Close stops it.
//
// The parts stop in reverse (Close), so their order here is the order of a
// leaving node: mDNS withdraws the record first (no one joins through a
// node that is leaving); the scheduler, the elector and the worker pool
// stop next (no new work; running tasks get their grace); the config watch
// ends; the heartbeat deregisters the node; the HTTP server closes (within
// 5s: its clients saw the node leave); alerts, the health monitor and the
// store last. One step is special: the HTTP server listens last before
// mDNS (a node that serves is a whole node: registered, leading or
// running tasks as its role says), yet stops after the node left, so it
// is two steps, its shutdown in the order it stops and its listening in
// the order it starts.
func (m *Main) Run(ctx context.Context) error {
	o := m.Opts
	m.role, _ = o.role()
	m.startedAt = m.env.Now()
	m.nodeID = o.NodeID
	if m.nodeID == "" {
		m.nodeID = defaultNodeID(o.HTTP)
	}
	if m.Logger != nil { // set after NewMain, perhaps
		m.env.Logger = m.Logger
	}
	m.env.Logger = quietLogger(m.env.Logger).With("node", m.nodeID) // app/storehealth.go
	m.Logger = m.env.Logger

	m.group.Add("mDNS join", lifecycle.Funcs(m.joinByMDNS, m.stopJoinBrowser)) // app/discovery.go
	m.group.Add("store", lifecycle.Funcs(m.startStore, m.closeStore))
	m.group.Add("cluster config", lifecycle.Funcs(m.loadConfig, nil))
	m.group.Add("node settings", lifecycle.Funcs(m.loadSettings, nil)) // app/nodesettings.go
	if err := m.group.Start(ctx); err != nil {
		return err
	}

	m.build()
	m.group.Add("health monitor", m.Monitor)
	m.group.Add("alerts", m.Alerts)
	m.group.Add("HTTP server", lifecycle.Funcs(nil, m.stopServer))
	m.group.Add("heartbeat", lifecycle.Funcs(m.register, m.Heartbeat.Stop))
	m.group.Add("config watch", &m.watch)
	m.group.Add("role parts", &m.roles) // worker pool, elector, scheduler: app/roles.go
	m.group.Add("HTTP listener", lifecycle.Funcs(m.listen, nil))
	m.group.Add("mDNS", &m.mdns)
	if err := m.group.Start(ctx); err != nil {
		return err
	}
	url := m.Server.URL()
	m.Logger.Info("node started", "role", m.currentRole(), "workers", m.workers(m.Settings()), "store", store.RedactURL(o.Store),
		"auth", authMode(o), "dashboard", url+"/", "playground", url+"/playground")
	if o.insecure() {
		m.Logger.Warn(graph.InsecureWarning)
	}
	return nil
}

// startStore opens the store --store names (or the one found by mDNS).
func (m *Main) startStore(ctx context.Context) error {
	o := m.Opts
	o.Store = store.WithRedisPassword(o.Store, o.StorePassword)
	st, err := openStore(ctx, o, m.env.Logger) // app/store.go
	if err != nil {
		return err
	}
	m.Store = st
	if b, ok := st.(*store.Bolt); ok {
		m.Logger.Info("embedded store", "path", b.Path())
	}
	return nil
}

// closeStore closes the store: the last step of a node that stops.
func (m *Main) closeStore(context.Context) error { return m.Store.Close() }

// loadConfig reconciles the cluster configuration with the options and
// admits this node to the cluster by its secret (app/admission.go).
func (m *Main) loadConfig(ctx context.Context) error {
	if err := m.reconcileConfig(ctx); err != nil {
		return err
	}
	return m.admit(ctx)
}

// build makes the parts from the options and the configuration loaded,
// stopped; every one exists before any starts, so that each may call on
// the others from its first run.
func (m *Main) build() {
	o, st, cfg := m.Opts, m.Store, m.Settings()
	m.Monitor = health.NewMonitor(health.MonitorConfig{
		Interval:   o.HealthInterval,
		Thresholds: m.thresholds(cfg),
		Env:        m.env,
		OnChange: func(archivist.Health, bool) {
			m.Heartbeat.Kick()
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
	// The pool exists before the first heartbeat, which tells its workers
	// and task types; the role parts start it.
	if m.currentRole().RunsTasks() {
		m.newPool()
	}
	m.Heartbeat = discovery.NewHeartbeater(discovery.HeartbeatConfig{
		Store: st, Describe: m.describe, OnStored: m.onStored, Interval: cfg.HeartbeatInterval, Env: m.env,
	})
	m.Alerts = alert.New(alert.Config{Store: st, Rules: o.AlertRules, Settings: m.Settings,
		IsLeader: m.isLeader,
		Webhooks: cli.SplitList(o.AlertWebhooks), Env: m.env})
	m.Server = m.newServer()
	m.mdns.atStart = cfg
}

// newServer builds the HTTP server: the GraphQL API and everything else
// server.Server serves.
func (m *Main) newServer() *server.Server {
	o, st := m.Opts, m.Store
	resolver := &graph.Resolver{Store: st, Registry: m.Registry, Logger: m.env.Logger, OnSubmitted: m.submitted, Alerts: m.Alerts,
		Settings: func() (archivist.Config, bool) {
			c := m.submitSettings()
			return c, c.Version > 0
		},
		OnConfigUpdated: m.storedConfig,
		Security:        graph.Security{AuthRequired: o.authRequired(), Insecure: o.insecure(), TLS: o.tls().Enabled()}}
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
		Metrics:                       m.Metrics,
	}
	// Automatic persisted queries live in the store: on Redis a query
	// registered through one node is known to all.
	if qc, ok := st.(graph.QueryCache); ok {
		hopts.PersistedQueries = graph.StoreQueryCache(qc)
	}
	gql := graph.NewHandler(resolver, hopts)
	return server.New(server.Config{
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
		Env:               m.env,
	})
}

// register sends the first heartbeat, which registers the node, and
// records the node settings given at start around it (recordNodeFlags).
func (m *Main) register(ctx context.Context) error {
	m.recordNodeFlags(ctx) // if still registered: before the first heartbeat
	if err := m.Heartbeat.Start(ctx); err != nil {
		return fmt.Errorf("register node: %w", err)
	}
	m.recordNodeFlags(ctx)
	return nil
}

// listen starts serving HTTP.
func (m *Main) listen(ctx context.Context) error {
	if err := m.Server.Start(ctx); err != nil {
		return fmt.Errorf("listen on %s: %w", m.Opts.HTTP, err)
	}
	return nil
}

// serverStopTimeout bounds the HTTP server's shutdown: its clients saw the
// node leave, and a slow one does not hold the store open.
const serverStopTimeout = 5 * time.Second

// stopServer closes WebSockets and shuts the HTTP server down.
func (m *Main) stopServer(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, serverStopTimeout)
	defer cancel()
	return m.Server.Stop(ctx)
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
		shared := store.IsRedisURL(m.Opts.Store)
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

// configWatch applies the changes made through the API to this node: the
// cluster configuration (apply) and the node's own settings
// (watchNodeSettings).
type configWatch struct {
	lifecycle.Base
	m *Main
}

// Start subscribes to the store's events, so that no change made after it
// returns is missed, and applies them until Stop.
func (w *configWatch) Start(ctx context.Context) error {
	var sub archivist.Subscription
	return w.Base.Start(ctx, func(ctx context.Context) (err error) {
		sub, err = w.m.Store.Subscribe(ctx, 0)
		return err
	}, func(ctx context.Context) { w.m.watchConfig(ctx, sub) })
}

// watchConfig applies the events of sub until ctx ends, subscribing again
// when the store drops it.
func (m *Main) watchConfig(ctx context.Context, sub archivist.Subscription) {
	for ctx.Err() == nil {
		for ev := range sub.C() {
			if ev.Kind == archivist.EventConfig && ev.Config != nil {
				m.apply(*ev.Config)
			}
			m.watchNodeSettings(ev) // app/nodesettings.go
		}
		if ctx.Err() != nil {
			return
		}
		// Dropped for being slow: resubscribe and re-read the config.
		if s, err := m.Store.Subscribe(ctx, 0); err == nil {
			sub = s
			if c, err := m.Store.Config(ctx); err == nil {
				m.apply(c)
			}
			m.reloadNodeSettings()
		} else {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
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
	ids := make([]string, 0, len(ts))
	for _, t := range ts {
		// A duplicate is another submission's task; a SCHEDULED one waits
		// for its time.
		if t.Status == archivist.TaskPending && !t.Duplicate {
			ids = append(ids, t.ID)
		}
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

// Close stops the parts in reverse order (Run lists them): no new work,
// running tasks get their grace period, then the node leaves and the store
// closes. Each part's stop is bounded by ctx. Idempotent.
func (m *Main) Close(ctx context.Context) error {
	return m.group.Stop(ctx)
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
