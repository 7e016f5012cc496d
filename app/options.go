package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/alert"
	"github.com/rpg-archivist/archivist/auth"
	"github.com/rpg-archivist/archivist/cli"
	"github.com/rpg-archivist/archivist/discovery"
	"github.com/rpg-archivist/archivist/graph"
	"github.com/rpg-archivist/archivist/health"
	"github.com/rpg-archivist/archivist/server"
)

// Defaults of Options that are app's own. The others are those of the
// parts they configure, named where they live: archivist.DefaultConfig for
// the cluster settings, MachineWorkers, and alert.Default*,
// discovery.DefaultMDNSTTL, graph.Default* and server.DefaultBodyTimeout.
const (
	// DefaultHTTP is where a node serves: loopback, so that a node started
	// without API keys is reachable from this machine only.
	DefaultHTTP = "127.0.0.1:8080"
	// DefaultStore is the embedded store at its default path.
	DefaultStore = "bolt"
	// DefaultConnectTimeout is how long a Redis store that does not answer
	// at start is retried.
	DefaultConnectTimeout = 2 * time.Minute
	// DefaultRole is a node that both schedules and runs tasks.
	DefaultRole = "hybrid"
	// DefaultStrategy is the placement strategy a new cluster starts with.
	DefaultStrategy = "round-robin"
	// DefaultCluster is the cluster a node joins unless told another.
	DefaultCluster = "default"
	// DefaultHealthInterval is how often CPU, memory and load are sampled.
	DefaultHealthInterval = health.DefaultInterval
	// DefaultShutdownGrace is how long running tasks may finish when the
	// node stops.
	DefaultShutdownGrace = 30 * time.Second
	// DefaultLogLevel and DefaultLogFormat: info lines as text.
	DefaultLogLevel  = "info"
	DefaultLogFormat = "text"
	// DefaultJoinTimeout is how long a node with --discovery auto and no
	// --store looks for a node to join.
	DefaultJoinTimeout = 10 * time.Second
)

// Options are the settings of `archivist serve`. Each has a flag, an
// ARCHIVIST_* environment twin and a key in the config file; the precedence
// is flag > environment > file > default. A field is named after its flag
// (HTTP: --http); the help text of each is in newServeFlags, and its
// default is named beside it.
type Options struct {
	HTTP              string        // default DefaultHTTP
	Store             string        // default DefaultStore
	Role              string        // default DefaultRole
	NodeID            string        // default: host name and HTTP port (defaultNodeID)
	Name              string        // default: the node id
	Workers           int           // default MachineWorkers()
	Capabilities      string        // default: none (any type)
	Discovery         string        // default archivist.DefaultConfig().Discovery
	Peers             string        // default: none
	Strategy          string        // default DefaultStrategy
	HeartbeatInterval time.Duration // default archivist.DefaultConfig().HeartbeatInterval
	MissedHeartbeats  int           // default archivist.DefaultConfig().MissedHeartbeats
	Cluster           string        // default DefaultCluster
	Config            string        // default: no config file
	TaskTimeout       time.Duration // default archivist.DefaultConfig().DefaultTimeout
	MaxRetries        int           // default archivist.DefaultConfig().DefaultMaxRetries
	Retention         time.Duration // default archivist.DefaultConfig().Retention
	FailedRetention   time.Duration // default archivist.DefaultConfig().FailedRetention
	CPUThreshold      float64       // default archivist.DefaultConfig().Thresholds.CPUPercent
	MemoryThreshold   float64       // default archivist.DefaultConfig().Thresholds.MemoryPercent
	LoadThreshold     float64       // default archivist.DefaultConfig().Thresholds.Load1
	HealthInterval    time.Duration // default DefaultHealthInterval
	ShutdownGrace     time.Duration // default DefaultShutdownGrace
	ConnectTimeout    time.Duration // default DefaultConnectTimeout
	AlertWebhooks     string        // default: none
	AlertRules        alert.Rules   // defaults alert.DefaultFailureRate, DefaultFailureWindow, DefaultPendingAge, DefaultBusyFor
	LogLevel          string        // default DefaultLogLevel
	LogFormat         string        // default DefaultLogFormat
	NoPlayground      bool
	// mDNS discovery (--discovery auto).
	ClusterSecret      string
	MDNSInterface      string        // default: every interface up, multicast and not loopback
	MDNSTTL            time.Duration // default discovery.DefaultMDNSTTL
	JoinTimeout        time.Duration // default DefaultJoinTimeout
	StandaloneFallback bool
	StorePassword      string
	AdvertiseAddr      string // default: the --http address
	// Security.
	APIKeys         string
	APIKeysFile     string
	Insecure        bool
	TLSCert         string
	TLSKey          string
	TLSSelfSigned   bool
	AllowedOrigins  string
	NoIntrospection bool
	PublicMetrics   bool
	MaxWebsockets   int           // default graph.DefaultMaxWebsockets
	MaxSubs         int           // default graph.DefaultMaxSubscriptionsPerConnection
	MaxPendingWS    int           // default graph.DefaultMaxPendingWebsockets
	RateLimit       float64       // default 0: no limit
	RateBurst       int           // default 0: the rate, rounded up
	BodyTimeout     time.Duration // default server.DefaultBodyTimeout
	MaxResponse     int           // default graph.DefaultMaxResponseBytes

	// keys are the API keys of --api-keys and --api-keys-file, read by
	// validate.
	keys *auth.Keyring

	// set names the options given by flag, environment or file: only those
	// override the cluster configuration already in the store.
	set map[string]bool
}

// clusterKeys are the options that seed the cluster configuration.
var clusterKeys = []string{"workers", "discovery", "peers", "strategy", "heartbeat-interval", "missed-heartbeats",
	"task-timeout", "max-retries", "retention", "failed-retention", "cpu-threshold", "memory-threshold", "load-threshold"}

// Of those, workers and the thresholds given explicitly to a node are its
// own: the node keeps them whatever the cluster configuration says (workers
// given explicitly are also recorded as the node's setting: see
// nodesettings.go).
func (o *Options) ownThresholds() bool {
	return o.set["cpu-threshold"] || o.set["memory-threshold"] || o.set["load-threshold"]
}

// thresholds are the node's own thresholds, over base for those not given.
func (o *Options) thresholds(base archivist.Thresholds) archivist.Thresholds {
	if o.set["cpu-threshold"] {
		base.CPUPercent = o.CPUThreshold
	}
	if o.set["memory-threshold"] {
		base.MemoryPercent = o.MemoryThreshold
	}
	if o.set["load-threshold"] {
		base.Load1 = o.LoadThreshold
	}
	return base
}

func newServeFlags(o *Options, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(out)
	d := archivist.DefaultConfig()
	fs.StringVar(&o.HTTP, "http", DefaultHTTP, "address the HTTP API, playground and dashboard listen on")
	fs.StringVar(&o.Store, "store", DefaultStore, "where shared state lives: bolt (embedded file at the default path), bolt:PATH, memory, or a Redis URL for a cluster: redis://[user:pass@]host:port/db, rediss://... (TLS; ?ca=, cert=, key=), redis+sentinel://host:port,.../master, redis+cluster://host:port,...; ?wait_replicas=N&wait_timeout=1s makes every write wait for N replicas")
	fs.DurationVar(&o.ConnectTimeout, "connect-timeout", DefaultConnectTimeout, "how long to keep retrying a Redis store that does not answer at start")
	fs.StringVar(&o.Role, "role", DefaultRole, "node role: master (schedules), worker (runs tasks) or hybrid (both); given explicitly, it wins over the role stored for this node (updateNode) and is stored in its place")
	fs.StringVar(&o.NodeID, "node-id", "", "stable id of this node: 1 to 128 ASCII letters, digits and . _ : - (default: host name and HTTP port)")
	fs.StringVar(&o.Name, "name", "", "display name of this node (default: the node id); given explicitly, it wins over the name stored for this node and is stored in its place")
	fs.IntVar(&o.Workers, "workers", MachineWorkers(), "task attempts this node runs at once (1-10000). Given explicitly, it is this node's own number: it wins over the number stored for this node and is stored in its place, and the node no longer follows the cluster's workers. Not given: the node runs its stored number (updateNode) if it has one, else the cluster's workers, which the first node of a cluster seeds from this default: "+machineWorkersFormula)
	fs.StringVar(&o.Capabilities, "capabilities", "", "comma-separated task types (or patterns like text.*) this node takes under CAPABILITY_BASED; empty: any type it has a handler for; given explicitly, they win over the capabilities stored for this node and are stored in their place")
	fs.StringVar(&o.Discovery, "discovery", strings.ToLower(string(d.Discovery)), "how nodes find each other: manual, auto or registry. It seeds the cluster config (the first node of a store writes it; on the embedded store an explicit flag rewrites it at every start) and decides for this node at start; once the cluster's method is changed through updateConfig, every node follows the cluster's method within a heartbeat, whatever flag it was given")
	fs.StringVar(&o.Peers, "peers", "", "with --discovery manual: comma-separated ids or addresses of the nodes admitted to the cluster (a node left out gets no tasks, and says so in its log)")
	fs.StringVar(&o.Strategy, "strategy", DefaultStrategy, "placement strategy: round-robin, least-busy or capability-based")
	fs.DurationVar(&o.HeartbeatInterval, "heartbeat-interval", d.HeartbeatInterval, "how often nodes send heartbeats")
	fs.IntVar(&o.MissedHeartbeats, "missed-heartbeats", d.MissedHeartbeats, "missed heartbeats after which a node is offline and its tasks are put back")
	fs.StringVar(&o.Cluster, "cluster", DefaultCluster, "cluster name: nodes share state only within a cluster")
	fs.StringVar(&o.Config, "config", "", "YAML config file whose keys are these flag names")
	fs.DurationVar(&o.TaskTimeout, "task-timeout", d.DefaultTimeout, "default timeout of a task attempt")
	fs.IntVar(&o.MaxRetries, "max-retries", d.DefaultMaxRetries, "default retries of a failed task")
	fs.DurationVar(&o.Retention, "retention", d.Retention, "how long completed and cancelled tasks are kept")
	fs.DurationVar(&o.FailedRetention, "failed-retention", d.FailedRetention, "how long failed and timed-out tasks are kept")
	fs.Float64Var(&o.CPUThreshold, "cpu-threshold", d.Thresholds.CPUPercent, "CPU percent over which the node is busy (0 disables)")
	fs.Float64Var(&o.MemoryThreshold, "memory-threshold", d.Thresholds.MemoryPercent, "memory percent over which the node is busy (0 disables)")
	fs.Float64Var(&o.LoadThreshold, "load-threshold", d.Thresholds.Load1, "1-minute load per core over which the node is busy (0 disables)")
	fs.DurationVar(&o.HealthInterval, "health-interval", DefaultHealthInterval, "how often CPU, memory and load are sampled")
	fs.DurationVar(&o.ShutdownGrace, "shutdown-grace", DefaultShutdownGrace, "on SIGINT/SIGTERM, how long running tasks may finish before they are stopped and put back (failed, when fault tolerance is off)")
	fs.StringVar(&o.AlertWebhooks, "alert-webhooks", "", "comma-separated URLs that get alerts firing and resolved as JSON POSTs (sent by the leader, retried with backoff)")
	fs.Float64Var(&o.AlertRules.FailureRate, "alert-failure-rate", alert.DefaultFailureRate, "alert when more than this percent of finished attempts failed in --alert-failure-window (negative: off)")
	fs.DurationVar(&o.AlertRules.FailureWindow, "alert-failure-window", alert.DefaultFailureWindow, "window of the failure-rate alert")
	fs.DurationVar(&o.AlertRules.PendingAge, "alert-pending-age", alert.DefaultPendingAge, "alert when the oldest pending task is older than this (negative: off)")
	fs.DurationVar(&o.AlertRules.BusyFor, "alert-busy-for", alert.DefaultBusyFor, "alert when a node stays BUSY longer than this (negative: off)")
	fs.BoolVar(&o.AlertRules.NodeOfflineOff, "alert-node-offline-off", false, "no alert when a node goes offline")
	fs.StringVar(&o.LogLevel, "log-level", DefaultLogLevel, "log level: debug, info, warn or error")
	fs.StringVar(&o.LogFormat, "log-format", DefaultLogFormat, "log format: text or json")
	fs.BoolVar(&o.NoPlayground, "no-playground", false, "do not serve the GraphQL playground (GraphiQL, built into the binary) at /playground")
	fs.StringVar(&o.ClusterSecret, "cluster-secret", "", "shared secret (16+ characters, the same on every node) that admits nodes to the cluster: on a shared store a node without it gets no tasks and one with another secret does not start; with --discovery auto it also signs mDNS records, and unsigned or wrongly signed ones are rejected (prefer ARCHIVIST_CLUSTER_SECRET to the flag)")
	fs.StringVar(&o.MDNSInterface, "mdns-interface", "", "under AUTO discovery (--discovery auto, or the cluster's method): comma-separated network interfaces for mDNS (default: every interface that is up, multicast and not loopback)")
	fs.DurationVar(&o.MDNSTTL, "mdns-ttl", discovery.DefaultMDNSTTL, "under AUTO discovery: TTL of this node's mDNS records; a node that is gone leaves the others' discovered set within it")
	fs.DurationVar(&o.JoinTimeout, "join-timeout", DefaultJoinTimeout, "with --discovery auto and no --store: how long to look for a node of the cluster that advertises a shared store")
	fs.BoolVar(&o.StandaloneFallback, "standalone-fallback", false, "with --discovery auto and no --store: when no node to join is found, run alone on the embedded store instead of exiting")
	fs.StringVar(&o.StorePassword, "store-password", "", "password for a Redis store whose URL has none, as one found by mDNS (prefer ARCHIVIST_STORE_PASSWORD to the flag)")
	fs.StringVar(&o.AdvertiseAddr, "advertise-addr", "", "under AUTO discovery: API address (host:port) told to peers (default: the --http address, with an unspecified host replaced by the first address of the mDNS interfaces)")
	fs.StringVar(&o.APIKeys, "api-keys", "", "comma-separated API keys that may use the API, as \"ROLE sha256:HASH [NAME]\" (from archivist token create) or ROLE:KEY; roles: viewer, operator, admin. No keys: no authentication, allowed only on a loopback --http (prefer ARCHIVIST_API_KEYS or --api-keys-file to the flag)")
	fs.StringVar(&o.APIKeysFile, "api-keys-file", "", "file of API keys, one entry per line as in --api-keys; # starts a comment; SIGHUP reloads it (and --api-keys)")
	fs.BoolVar(&o.Insecure, "insecure", false, "allow an --http address beyond loopback without API keys: anyone who reaches the node may do everything (for trusted networks only)")
	fs.StringVar(&o.TLSCert, "tls-cert", "", "PEM certificate (chain) file: serve HTTPS and WSS; needs --tls-key")
	fs.StringVar(&o.TLSKey, "tls-key", "", "PEM private key file of --tls-cert")
	fs.BoolVar(&o.TLSSelfSigned, "tls-self-signed", false, "serve HTTPS with a self-signed certificate made at start (development only: clients must skip verification)")
	fs.StringVar(&o.AllowedOrigins, "allowed-origins", "", "comma-separated other web origins allowed to call the API from a browser (CORS and WebSocket), as https://app.example.com or a pattern like https://*.example.com; the node's own origin always is")
	fs.BoolVar(&o.NoIntrospection, "no-introspection", false, "turn GraphQL schema introspection off (the playground needs it; consider --no-playground too)")
	fs.BoolVar(&o.PublicMetrics, "public-metrics", false, "serve /metrics without a key when API keys are set (by default a scraper sends a key of any role as Authorization: Bearer)")
	fs.IntVar(&o.MaxWebsockets, "max-websockets", graph.DefaultMaxWebsockets, "WebSocket connections this node serves at once; more are refused with 503 (-1: no limit)")
	fs.IntVar(&o.MaxPendingWS, "max-pending-websockets", graph.DefaultMaxPendingWebsockets, "WebSocket connections one client address may hold before they send connection_init (each for up to 10 s); more are refused with 429 (-1: no limit)")
	fs.IntVar(&o.MaxSubs, "max-subscriptions", graph.DefaultMaxSubscriptionsPerConnection, "subscriptions open at once on one WebSocket connection (-1: no limit)")
	fs.Float64Var(&o.RateLimit, "rate-limit", 0, "requests per second each API key (or, without a key, each client address) may make; over it: 429 / RATE_LIMITED (0: no limit; 20-100 suits a node open to others)")
	fs.IntVar(&o.RateBurst, "rate-burst", 0, "requests a client may make at once before --rate-limit applies (0: the rate, rounded up)")
	fs.DurationVar(&o.BodyTimeout, "body-timeout", server.DefaultBodyTimeout, "how long a client has to send a request body once its headers are in; a slower one gets 408 (-1s: no limit)")
	fs.IntVar(&o.MaxResponse, "max-response-bytes", graph.DefaultMaxResponseBytes, "largest GraphQL response (its data, in bytes); a larger one is refused with RESPONSE_TOO_LARGE before it is sent (-1: no limit)")
	return fs
}

func envName(flagName string) string {
	return "ARCHIVIST_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseServe reads flags, then fills what they left unset from the
// environment and then from the config file.
func parseServe(args []string, getenv func(string) string, out io.Writer) (*Options, error) {
	o := &Options{set: map[string]bool{}}
	fs := newServeFlags(o, out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: archivist serve [flags]\n\nRuns a node. With no flags: a hybrid node on the embedded store, HTTP on 127.0.0.1:8080.\nEvery flag also reads from an ARCHIVIST_* variable (--store: ARCHIVIST_STORE) and from the --config file.\n\n"+
			"Node settings (--name, --role, --workers, --capabilities) also change at run time, without a restart,\n"+
			"through updateNode (archivist nodes update ID, or the dashboard's Nodes page); the store keeps them by\n"+
			"node id. At a start the stored settings apply, except those given explicitly here (flag, variable or\n"+
			"config file), which win and are stored in their place.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || o.set[f.Name] {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", envName(f.Name), v, e)
			}
			o.set[f.Name] = true
		}
	})
	if err != nil {
		return nil, err
	}
	if o.Config != "" {
		if err := applyFile(fs, o, o.Config); err != nil {
			return nil, err
		}
	}
	return o, o.validate()
}

// applyFile sets the flags named by the file's keys, unless a flag or the
// environment set them already.
func applyFile(fs *flag.FlagSet, o *Options, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("config file %s: %v", path, err)
	}
	for key, v := range m {
		f := fs.Lookup(key)
		if f == nil || key == "config" {
			return fmt.Errorf("config file %s: unknown key %q (keys are the flag names of archivist serve, as in http or heartbeat-interval)", path, key)
		}
		if o.set[key] {
			continue
		}
		var s string
		switch v := v.(type) {
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			s = strings.Join(parts, ",")
		case nil:
			continue
		default:
			s = fmt.Sprint(v)
		}
		if err := fs.Set(key, s); err != nil {
			return fmt.Errorf("config file %s: key %q: %v", path, key, err)
		}
		o.set[key] = true
	}
	return nil
}

func (o *Options) validate() error {
	var errs []error
	if _, err := o.role(); err != nil {
		errs = append(errs, err)
	}
	if _, err := o.strategy(); err != nil {
		errs = append(errs, err)
	}
	if _, err := o.discovery(); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := net.SplitHostPort(o.HTTP); err != nil {
		errs = append(errs, fmt.Errorf("--http %q: want host:port, as in 127.0.0.1:8080", o.HTTP))
	}
	if o.Workers < 1 || o.Workers > archivist.MaxWorkers {
		errs = append(errs, fmt.Errorf("--workers must be between 1 and %d", archivist.MaxWorkers))
	}
	for _, c := range o.capabilities() {
		if err := archivist.ValidCapability(c); err != nil {
			errs = append(errs, fmt.Errorf("--capabilities: %q: %v", c, err))
		}
	}
	if len(o.capabilities()) > archivist.MaxCapabilities {
		errs = append(errs, fmt.Errorf("--capabilities: at most %d", archivist.MaxCapabilities))
	}
	if err := (archivist.NodeSettings{Name: o.Name}).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("--name: %s", archivist.ErrorMessageOf(err)))
	}
	if o.ShutdownGrace < 0 || o.HealthInterval <= 0 {
		errs = append(errs, fmt.Errorf("--shutdown-grace must not be negative and --health-interval must be above 0"))
	}
	switch o.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("--log-format %q: use text or json", o.LogFormat))
	}
	if _, err := parseLevel(o.LogLevel); err != nil {
		errs = append(errs, err)
	}
	for i, u := range cli.SplitList(o.AlertWebhooks) {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			// Not the URL itself: it may hold a token.
			errs = append(errs, fmt.Errorf("--alert-webhooks: URL %d (%s) is not an http(s) URL", i+1, alert.RedactWebhook(u)))
		}
	}
	if err := o.AlertRules.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("--alert-failure-rate: %v", err))
	}
	if o.ClusterSecret != "" && len(o.ClusterSecret) < 16 {
		errs = append(errs, fmt.Errorf("--cluster-secret: use at least 16 characters"))
	}
	if o.MDNSTTL < time.Second || o.MDNSTTL > time.Hour {
		errs = append(errs, fmt.Errorf("--mdns-ttl %s: between 1s and 1h", o.MDNSTTL))
	}
	if o.JoinTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--join-timeout must be above 0"))
	}
	if o.AdvertiseAddr != "" {
		if _, _, err := net.SplitHostPort(o.AdvertiseAddr); err != nil {
			errs = append(errs, fmt.Errorf("--advertise-addr %q: want host:port", o.AdvertiseAddr))
		}
	}
	if o.NodeID != "" {
		if err := archivist.CheckNodeID(o.NodeID); err != nil {
			errs = append(errs, fmt.Errorf("--node-id: %v", err))
		}
	}
	if o.Cluster == "" || strings.ContainsAny(o.Cluster, "{} \t\n") {
		errs = append(errs, fmt.Errorf("--cluster %q: a name without spaces or braces", o.Cluster))
	}
	if _, err := o.settings(archivist.DefaultConfig()); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, o.validateSecurity()...)
	return errors.Join(errs...)
}

func (o *Options) role() (archivist.NodeRole, error) {
	v, err := cli.EnumValue("role", o.Role, "MASTER", "WORKER", "HYBRID")
	return archivist.NodeRole(v), err
}

func (o *Options) strategy() (archivist.LoadBalancingStrategy, error) {
	v, err := cli.EnumValue("strategy", o.Strategy, "ROUND_ROBIN", "LEAST_BUSY", "CAPABILITY_BASED")
	return archivist.LoadBalancingStrategy(v), err
}

func (o *Options) discovery() (archivist.DiscoveryMethod, error) {
	v, err := cli.EnumValue("discovery", o.Discovery, "MANUAL", "AUTO", "REGISTRY")
	return archivist.DiscoveryMethod(v), err
}

// settings returns base with the cluster options that were given (all of
// them when base is the default) applied, validated.
func (o *Options) settings(base archivist.Config) (archivist.Config, error) {
	c := base
	given := func(k string) bool { return base.Version == 0 || o.set[k] }
	if given("workers") {
		c.Workers = o.Workers
	}
	if given("discovery") {
		c.Discovery, _ = o.discovery()
	}
	if given("peers") {
		c.Peers = cli.SplitList(o.Peers)
	}
	if given("strategy") {
		c.Strategy, _ = o.strategy()
	}
	if given("heartbeat-interval") {
		c.HeartbeatInterval = o.HeartbeatInterval
	}
	if given("missed-heartbeats") {
		c.MissedHeartbeats = o.MissedHeartbeats
	}
	if given("task-timeout") {
		c.DefaultTimeout = o.TaskTimeout
	}
	if given("max-retries") {
		c.DefaultMaxRetries = o.MaxRetries
	}
	if given("retention") {
		c.Retention = o.Retention
	}
	if given("failed-retention") {
		c.FailedRetention = o.FailedRetention
	}
	if given("cpu-threshold") {
		c.Thresholds.CPUPercent = o.CPUThreshold
	}
	if given("memory-threshold") {
		c.Thresholds.MemoryPercent = o.MemoryThreshold
	}
	if given("load-threshold") {
		c.Thresholds.Load1 = o.LoadThreshold
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "invalid config: "))
	}
	return c, nil
}

// givenClusterKeys lists the options given that seed the cluster
// configuration.
func (o *Options) givenClusterKeys() []string {
	var out []string
	for _, k := range clusterKeys {
		if o.set[k] {
			out = append(out, k)
		}
	}
	return out
}

func (o *Options) capabilities() []string { return cli.SplitList(o.Capabilities) }

// machineWorkersFormula says how MachineWorkers sizes the default.
const machineWorkersFormula = "the number of CPUs this process may use (runtime.NumCPU), at least 4"

// MachineWorkers is the default of --workers, sized from the machine: the
// number of CPUs this process may use, at least 4 (tasks often wait on I/O,
// so a small machine still runs a few at once).
func MachineWorkers() int { return min(max(runtime.NumCPU(), 4), archivist.MaxWorkers) }

// ConfigFile is the config file archivist config init writes: every option
// of archivist serve as a commented-out YAML key with its default,
// described by its help text.
func ConfigFile() string {
	var b strings.Builder
	b.WriteString("# Archivist node configuration: archivist serve --config this-file\n")
	b.WriteString("# Keys are the flags of archivist serve. Precedence: flag > ARCHIVIST_* environment > this file > default.\n")
	b.WriteString("# Every key below shows its default; uncomment the ones you change.\n")
	fs := newServeFlags(&Options{}, io.Discard)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			return
		}
		fmt.Fprintf(&b, "\n# %s\n", f.Usage)
		v := f.DefValue
		switch {
		case v == "":
			fmt.Fprintf(&b, "# %s:\n", f.Name)
		case strings.ContainsAny(v, ":#{}[],&*!|>'\"%@`") || v != strings.TrimSpace(v):
			fmt.Fprintf(&b, "# %s: %q\n", f.Name, v)
		default:
			fmt.Fprintf(&b, "# %s: %s\n", f.Name, v)
		}
	})
	return b.String()
}
