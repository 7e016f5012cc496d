package archivist

import (
	"fmt"
	"strings"
	"time"
)

// LoadBalancingStrategy is how the leader picks a node for a task.
type LoadBalancingStrategy string

// Strategies.
const (
	StrategyRoundRobin      LoadBalancingStrategy = "ROUND_ROBIN"
	StrategyLeastBusy       LoadBalancingStrategy = "LEAST_BUSY"
	StrategyCapabilityBased LoadBalancingStrategy = "CAPABILITY_BASED"
)

// Valid reports whether s is a known strategy.
func (s LoadBalancingStrategy) Valid() bool {
	return s == StrategyRoundRobin || s == StrategyLeastBusy || s == StrategyCapabilityBased
}

// Defaults of Config.
const (
	DefaultHeartbeatInterval = time.Second
	DefaultMissedHeartbeats  = 3
	DefaultTaskTimeout       = 5 * time.Minute
	DefaultMaxRetries        = 3
	DefaultStrategy          = StrategyRoundRobin
	DefaultRetention         = 24 * time.Hour
	// DefaultFailedRetention is how long FAILED and TIMED_OUT tasks are
	// kept: longer than the others, so that failures stay to be looked at
	// (the dashboard's dead-letter queue) and retried.
	DefaultFailedRetention = 7 * 24 * time.Hour
	DefaultRetryBackoff    = time.Second
	DefaultMaxRetryBackoff = 5 * time.Minute
	DefaultCPUThreshold    = 90.0
	DefaultMemoryThreshold = 90.0
	DefaultWorkers         = 4
	// DefaultHysteresis is how far below a threshold a busy node's health must
	// fall before it is ONLINE again, in the threshold's unit.
	DefaultHysteresis = 10.0
)

// Thresholds turn a node BUSY when any sampled value is over its threshold.
// Zero disables a threshold.
type Thresholds struct {
	CPUPercent    float64 `json:"cpuPercent"`
	MemoryPercent float64 `json:"memoryPercent"`
	// Load1 is the 1-minute load average per core.
	Load1 float64 `json:"load1"`
}

// Config is the cluster's runtime configuration (DistributedProcessingConfig
// in the API). It lives in the store; every node applies its newest version.
type Config struct {
	Version int64 `json:"version"`
	// Enabled turns distributed processing on: the leader places ready
	// tasks on nodes. Off, the leader places nothing and each node runs the
	// tasks submitted through it; tasks nobody runs that way (submitted
	// through a master, retries, tasks put back) wait until it is on again.
	Enabled   bool            `json:"enabled"`
	Discovery DiscoveryMethod `json:"discovery"`
	// Peers is the admission list of MANUAL discovery: node ids or
	// addresses. Empty admits every node.
	Peers             []string              `json:"peers,omitempty"`
	HeartbeatInterval time.Duration         `json:"heartbeatInterval"`
	MissedHeartbeats  int                   `json:"missedHeartbeats"`
	DefaultTimeout    time.Duration         `json:"defaultTimeout"`
	DefaultMaxRetries int                   `json:"defaultMaxRetries"`
	Strategy          LoadBalancingStrategy `json:"strategy"`
	// FaultTolerance on (at least once): failed and timed-out attempts are
	// retried up to the task's MaxRetries, and the tasks of a lost node, or
	// of a node that restarted or shut down mid-task, are put back to run
	// again. Off (at most once): no task is started twice. A failed attempt
	// fails its task (a timeout: TIMED_OUT); a running task of a lost node
	// ends FAILED with an error that says the node was lost (Store.FailNode),
	// and one cut off by its node's restart or shutdown ends FAILED too;
	// tasks assigned to a lost node that it never claimed go back to PENDING,
	// since they never ran. Read at each decision: a task already RETRYING
	// when it is turned off keeps its retry.
	FaultTolerance bool       `json:"faultTolerance"`
	Thresholds     Thresholds `json:"thresholds"`
	Workers        int        `json:"workers"`
	// Retention is how long COMPLETED and CANCELLED tasks are kept after
	// they finished; FailedRetention the same for FAILED and TIMED_OUT
	// ones (0: DefaultFailedRetention, see FailedRetentionPeriod).
	Retention       time.Duration `json:"retention"`
	FailedRetention time.Duration `json:"failedRetention,omitempty"`
	RetryBackoff    time.Duration `json:"retryBackoff"`
	MaxBackoff      time.Duration `json:"maxBackoff"`
	UpdatedAt       time.Time     `json:"updatedAt,omitzero"`
	UpdatedBy       string        `json:"updatedBy,omitempty"`
	// AdmissionKey is the verifier of the cluster secret (see
	// DeriveAdmissionKey), recorded by the first node started with one; never
	// the secret itself. When set, the leader places tasks only on nodes
	// whose heartbeat proof verifies with it, and a node started with another
	// secret or none refuses to join a running cluster. The API does not
	// change it: it changes when every node restarts with another secret.
	AdmissionKey string `json:"admissionKey,omitempty"`
}

// DefaultConfig returns the configuration a new cluster starts with.
func DefaultConfig() Config {
	return Config{
		Enabled:           true,
		Discovery:         DiscoveryRegistry,
		HeartbeatInterval: DefaultHeartbeatInterval,
		MissedHeartbeats:  DefaultMissedHeartbeats,
		DefaultTimeout:    DefaultTaskTimeout,
		DefaultMaxRetries: DefaultMaxRetries,
		Strategy:          DefaultStrategy,
		FaultTolerance:    true,
		Thresholds:        Thresholds{CPUPercent: DefaultCPUThreshold, MemoryPercent: DefaultMemoryThreshold},
		Workers:           DefaultWorkers,
		Retention:         DefaultRetention,
		FailedRetention:   DefaultFailedRetention,
		RetryBackoff:      DefaultRetryBackoff,
		MaxBackoff:        DefaultMaxRetryBackoff,
	}
}

// Validate checks every field and returns a BAD_USER_INPUT error naming the
// first field that is out of range.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return Errorf(CodeBadUserInput, "invalid config: "+format, args...)
	}
	switch {
	case !c.Discovery.Valid():
		return bad("discovery %q is not MANUAL, AUTO or REGISTRY", Clip(string(c.Discovery)))
	case c.HeartbeatInterval < 10*time.Millisecond || c.HeartbeatInterval > time.Minute:
		return bad("heartbeat interval %s must be between 10ms and 1m", c.HeartbeatInterval)
	case c.MissedHeartbeats < 1 || c.MissedHeartbeats > 100:
		return bad("missed heartbeats %d must be between 1 and 100", c.MissedHeartbeats)
	case c.DefaultTimeout <= 0 || c.DefaultTimeout > MaxTimeout:
		return bad("default timeout %s must be above 0 and at most %s", c.DefaultTimeout, MaxTimeout)
	case c.DefaultMaxRetries < 0 || c.DefaultMaxRetries > MaxMaxRetries:
		return bad("default max retries %d must be between 0 and %d", c.DefaultMaxRetries, MaxMaxRetries)
	case !c.Strategy.Valid():
		return bad("strategy %q is not ROUND_ROBIN, LEAST_BUSY or CAPABILITY_BASED", Clip(string(c.Strategy)))
	case c.Workers < 1 || c.Workers > 10000:
		return bad("workers %d must be between 1 and 10000", c.Workers)
	case c.Retention < time.Minute:
		return bad("retention %s must be at least 1m", c.Retention)
	case c.FailedRetention != 0 && c.FailedRetention < time.Minute:
		return bad("failed retention %s must be at least 1m", c.FailedRetention)
	case c.RetryBackoff <= 0 || c.MaxBackoff < c.RetryBackoff:
		return bad("retry backoff %s must be above 0 and not over the max backoff %s", c.RetryBackoff, c.MaxBackoff)
	}
	for _, p := range c.Peers {
		if strings.TrimSpace(p) == "" || len(p) > 255 {
			return bad("peer %q must be a node id or host:port", Clip(p))
		}
	}
	for name, v := range map[string]float64{"cpu": c.Thresholds.CPUPercent, "memory": c.Thresholds.MemoryPercent} {
		if v < 0 || v > 100 {
			return bad("%s threshold %.1f must be between 0 and 100 (0 disables it)", name, v)
		}
	}
	if c.Thresholds.Load1 < 0 {
		return bad("load threshold %.2f must not be negative (0 disables it)", c.Thresholds.Load1)
	}
	return nil
}

// FailedRetentionPeriod is how long FAILED and TIMED_OUT tasks are kept:
// FailedRetention, or DefaultFailedRetention when it is 0 (a configuration
// stored before it existed).
func (c Config) FailedRetentionPeriod() time.Duration {
	if c.FailedRetention == 0 {
		return DefaultFailedRetention
	}
	return c.FailedRetention
}

// Admits reports whether node n may take part in the cluster: always, except
// under MANUAL discovery with a peer list that names neither its id nor its
// address.
func (c Config) Admits(n *Node) bool {
	if c.Discovery != DiscoveryManual || len(c.Peers) == 0 {
		return true
	}
	for _, p := range c.Peers {
		if p == n.ID || (n.Address != "" && p == n.Address) {
			return true
		}
	}
	return false
}

// String is for logs.
func (c Config) String() string {
	return fmt.Sprintf("config v%d (strategy %s, heartbeat %s, workers %d)", c.Version, c.Strategy, c.HeartbeatInterval, c.Workers)
}
