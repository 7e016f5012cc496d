package archivist

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// NodeRole says what a node does: a MASTER may lead (place tasks), a WORKER
// runs tasks, a HYBRID does both.
type NodeRole string

// Node roles.
const (
	RoleMaster NodeRole = "MASTER"
	RoleWorker NodeRole = "WORKER"
	RoleHybrid NodeRole = "HYBRID"
)

// Valid reports whether r is a known role.
func (r NodeRole) Valid() bool { return r == RoleMaster || r == RoleWorker || r == RoleHybrid }

// CanLead reports whether a node of this role takes part in leader election.
func (r NodeRole) CanLead() bool { return r == RoleMaster || r == RoleHybrid }

// RunsTasks reports whether a node of this role runs tasks.
func (r NodeRole) RunsTasks() bool { return r == RoleWorker || r == RoleHybrid }

// NodeStatus is a node's availability for new work.
type NodeStatus string

// Node statuses.
const (
	NodeOnline   NodeStatus = "ONLINE"
	NodeBusy     NodeStatus = "BUSY"
	NodeDraining NodeStatus = "DRAINING"
	NodeOffline  NodeStatus = "OFFLINE"
)

// DiscoveryMethod is how nodes find each other.
type DiscoveryMethod string

// Discovery methods.
const (
	DiscoveryManual   DiscoveryMethod = "MANUAL"
	DiscoveryAuto     DiscoveryMethod = "AUTO"
	DiscoveryRegistry DiscoveryMethod = "REGISTRY"
)

// Valid reports whether d is a known discovery method.
func (d DiscoveryMethod) Valid() bool {
	return d == DiscoveryManual || d == DiscoveryAuto || d == DiscoveryRegistry
}

// Health is one sample of a node's resource use.
type Health struct {
	CPUPercent    float64   `json:"cpuPercent"`
	MemoryPercent float64   `json:"memoryPercent"`
	Load1         float64   `json:"load1"`
	Load5         float64   `json:"load5"`
	Load15        float64   `json:"load15"`
	SampledAt     time.Time `json:"sampledAt,omitzero"`
}

// Node is a member of the cluster as its heartbeats describe it.
type Node struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Address      string          `json:"address"`
	Role         NodeRole        `json:"role"`
	Capabilities []string        `json:"capabilities,omitempty"`
	TaskTypes    []string        `json:"taskTypes,omitempty"`
	Workers      int             `json:"workers"`
	ActiveTasks  int             `json:"activeTasks"`
	Discovery    DiscoveryMethod `json:"discovery"`
	Version      string          `json:"version"`
	// Busy is set by the node itself when its health is over a threshold.
	Busy bool `json:"busy"`
	// Draining is set through the API; a heartbeat never clears it.
	Draining bool `json:"draining"`
	// Local is set by a node that has left placement (distributed processing
	// disabled): it runs only what is submitted to it.
	Local         bool      `json:"local,omitempty"`
	ConfigVersion int64     `json:"configVersion"`
	Health        Health    `json:"health"`
	StartedAt     time.Time `json:"startedAt"`
	LastHeartbeat time.Time `json:"lastHeartbeat"`
	// Interval is the heartbeat interval the node runs with.
	Interval time.Duration `json:"interval"`
	// AdmissionProof proves that the node was started with the cluster
	// secret: a signature of its id and StartedAt with the key the secret
	// derives (see VerifyAdmission). Empty without a secret.
	AdmissionProof string `json:"admissionProof,omitempty"`
}

// Clone returns a deep copy of n.
func (n *Node) Clone() *Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Capabilities = append([]string(nil), n.Capabilities...)
	c.TaskTypes = append([]string(nil), n.TaskTypes...)
	return &c
}

// StatusAt is the node's status at now: OFFLINE when its last heartbeat is
// older than missed intervals, else DRAINING, BUSY or ONLINE.
func (n *Node) StatusAt(now time.Time, missed int) NodeStatus {
	if n.Offline(now, missed) {
		return NodeOffline
	}
	switch {
	case n.Draining:
		return NodeDraining
	case n.Busy:
		return NodeBusy
	}
	return NodeOnline
}

// Offline reports whether the node's heartbeat is older than missed intervals.
func (n *Node) Offline(now time.Time, missed int) bool {
	iv := n.Interval
	if iv <= 0 {
		iv = DefaultHeartbeatInterval
	}
	if missed <= 0 {
		missed = DefaultMissedHeartbeats
	}
	return now.Sub(n.LastHeartbeat) > time.Duration(missed)*iv
}

// Accepts reports whether the node can run a task of type typ: it must have a
// handler for it, and when it lists capabilities one of them must match
// (exactly, or as a pattern such as "text.*").
func (n *Node) Accepts(typ string) bool {
	if len(n.TaskTypes) > 0 && !contains(n.TaskTypes, typ) {
		return false
	}
	if len(n.Capabilities) == 0 {
		return true
	}
	for _, c := range n.Capabilities {
		if CapabilityMatches(c, typ) {
			return true
		}
	}
	return false
}

// CapabilityMatches reports whether capability c (a task type, "*", or a
// pattern such as "text.*") covers task type typ.
func CapabilityMatches(c, typ string) bool {
	if c == typ || c == "*" {
		return true
	}
	ok, err := path.Match(c, typ)
	return err == nil && ok
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// NodeSettings are the parts of a node that are set through the API
// (updateNode) or recorded from the flags a node was started with. The store
// keeps them by node id, also while the node is stopped or removed, so that
// the node finds them when it starts again. A zero field is not set: the
// node keeps what it has (its flag, or the default).
type NodeSettings struct {
	// Name is the display name ("" : not set).
	Name string `json:"name,omitempty"`
	// Role is what the node does ("" : not set).
	Role NodeRole `json:"role,omitempty"`
	// Workers is how many attempts the node runs at once (0: not set; the
	// node follows the cluster configuration's workers).
	Workers int `json:"workers,omitempty"`
	// Capabilities, when not nil, replace the node's; an empty (not nil)
	// list means every type it has a handler for.
	Capabilities []string `json:"capabilities"`
	// UpdatedAt is when the settings were last changed (set by the store).
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// NodeSettingsDetail is the Detail of the node.updated event that a change
// of a node's settings records: the node applies its new settings when it
// sees it.
const NodeSettingsDetail = "settings updated"

// Limits of node settings.
const (
	MaxNodeNameLength = 100
	MaxWorkers        = 10000
	MaxCapabilities   = 100
)

// Clone returns a deep copy of s that keeps an empty Capabilities list
// apart from a nil one.
func (s NodeSettings) Clone() NodeSettings {
	if s.Capabilities != nil {
		s.Capabilities = append(make([]string, 0, len(s.Capabilities)), s.Capabilities...)
	}
	return s
}

// IsZero reports whether no setting is set.
func (s NodeSettings) IsZero() bool {
	return s.Name == "" && s.Role == "" && s.Workers == 0 && s.Capabilities == nil
}

// Merge returns s with the settings that u sets replacing its own.
func (s NodeSettings) Merge(u NodeSettings) NodeSettings {
	out := s.Clone()
	if u.Name != "" {
		out.Name = u.Name
	}
	if u.Role != "" {
		out.Role = u.Role
	}
	if u.Workers != 0 {
		out.Workers = u.Workers
	}
	if u.Capabilities != nil {
		out.Capabilities = u.Clone().Capabilities
	}
	return out
}

// ApplyTo sets the fields of n that s sets (workers only when n's role
// runs tasks: a MASTER has none).
func (s NodeSettings) ApplyTo(n *Node) {
	if s.Name != "" {
		n.Name = s.Name
	}
	if s.Role != "" {
		n.Role = s.Role
	}
	if s.Workers != 0 && n.Role.RunsTasks() {
		n.Workers = s.Workers
	}
	if s.Capabilities != nil {
		n.Capabilities = append([]string(nil), s.Capabilities...)
	}
}

// Validate checks the settings that are set: a known role, 1 to
// MaxWorkers workers, a name of at most MaxNodeNameLength characters
// without control characters, and capabilities that are task types or
// patterns (see ValidCapability). The error has code BAD_USER_INPUT.
func (s NodeSettings) Validate() error {
	if s.Role != "" && !s.Role.Valid() {
		return Errorf(CodeBadUserInput, "role %q: use MASTER, WORKER or HYBRID", Clip(string(s.Role)))
	}
	if s.Workers != 0 && (s.Workers < 1 || s.Workers > MaxWorkers) {
		return Errorf(CodeBadUserInput, "workers %d must be between 1 and %d", s.Workers, MaxWorkers)
	}
	if n := utf8.RuneCountInString(s.Name); n > MaxNodeNameLength {
		return Errorf(CodeBadUserInput, "name is %d characters long: at most %d", n, MaxNodeNameLength)
	}
	for _, r := range s.Name {
		if unicode.IsControl(r) {
			return Errorf(CodeBadUserInput, "name %q: control characters are not allowed", Clip(s.Name))
		}
	}
	if len(s.Capabilities) > MaxCapabilities {
		return Errorf(CodeBadUserInput, "%d capabilities: at most %d", len(s.Capabilities), MaxCapabilities)
	}
	for _, c := range s.Capabilities {
		if err := ValidCapability(c); err != nil {
			return Errorf(CodeBadUserInput, "capability %q: %v", Clip(c), err)
		}
	}
	return nil
}

// ValidCapability checks a capability: a task type, "*", or a pattern such
// as "text.*" (path.Match syntax), without spaces or commas, at most 200
// characters.
func ValidCapability(c string) error {
	switch {
	case c == "":
		return errors.New("empty")
	case len(c) > 200:
		return errors.New("longer than 200 characters")
	case strings.ContainsAny(c, ", \t\r\n"):
		return errors.New("no spaces or commas")
	}
	if _, err := path.Match(c, ""); err != nil {
		return fmt.Errorf("not a valid pattern: %v", err)
	}
	return nil
}
