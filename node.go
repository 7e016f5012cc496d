package archivist

import (
	"path"
	"time"
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
