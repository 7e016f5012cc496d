package client

import (
	"encoding/json"
	"time"
)

// Task is a task as the API shows it (DistributedTask).
type Task struct {
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	Status          string          `json:"status"`
	Priority        string          `json:"priority"`
	Input           json.RawMessage `json:"input,omitempty"`
	Result          json.RawMessage `json:"result,omitempty"`
	Error           string          `json:"error,omitempty"`
	Attempts        int             `json:"attempts"`
	Failures        int             `json:"failures"`
	MaxRetries      int             `json:"maxRetries"`
	TimeoutSeconds  float64         `json:"timeoutSeconds"`
	Progress        float64         `json:"progress"`
	ProgressMessage string          `json:"progressMessage,omitempty"`
	NodeID          string          `json:"nodeId,omitempty"`
	Metadata        json.RawMessage `json:"metadata,omitempty"`
	CancelRequested bool            `json:"cancelRequested"`
	CreatedAt       time.Time       `json:"createdAt"`
	UpdatedAt       time.Time       `json:"updatedAt"`
	StartedAt       *time.Time      `json:"startedAt,omitempty"`
	CompletedAt     *time.Time      `json:"completedAt,omitempty"`
	// RetryBackoffMs and MaxBackoffMs are the task's own retry backoff in
	// milliseconds; nil: the cluster's.
	RetryBackoffMs *int `json:"retryBackoffMs,omitempty"`
	MaxBackoffMs   *int `json:"maxBackoffMs,omitempty"`
	// RunAt is when a SCHEDULED task becomes PENDING (or a RETRYING one
	// PENDING again).
	RunAt *time.Time `json:"runAt,omitempty"`
	// UniqueKey and UniqueForSeconds: see TaskSpec.
	UniqueKey        string  `json:"uniqueKey,omitempty"`
	UniqueForSeconds float64 `json:"uniqueForSeconds"`
	// Duplicate is true on the answer to a submission whose UniqueKey was
	// held: nothing was created, and this is the task holding the key.
	Duplicate bool `json:"duplicate"`
	// Schedule names the schedule that submitted the task, if one did.
	Schedule string `json:"schedule,omitempty"`
	// WorkflowID and StepKey name the workflow the task is a step of, and
	// the step; both "" for a task outside any workflow.
	WorkflowID string `json:"workflowId,omitempty"`
	StepKey    string `json:"stepKey,omitempty"`
	// HeldBy says why a PENDING task is not placed: "paused" (its type is
	// paused) or "limit ID" (a full limit); "" when nothing holds it.
	HeldBy string `json:"heldBy,omitempty"`
	// Group is the task's group (TaskSpec.Group), "" for none.
	Group string `json:"group,omitempty"`
	// TraceID is the id of the trace the task belongs to when it was
	// submitted with tracing on (docs/tracing.md), "" otherwise.
	TraceID string `json:"traceId,omitempty"`
}

// Finished reports whether the task reached a final status.
func (t *Task) Finished() bool {
	switch t.Status {
	case StatusCompleted, StatusFailed, StatusCancelled, StatusTimedOut:
		return true
	}
	return false
}

// Task statuses.
const (
	StatusScheduled  = "SCHEDULED"
	StatusWaiting    = "WAITING"
	StatusPending    = "PENDING"
	StatusAssigned   = "ASSIGNED"
	StatusInProgress = "IN_PROGRESS"
	StatusRetrying   = "RETRYING"
	StatusCompleted  = "COMPLETED"
	StatusFailed     = "FAILED"
	StatusCancelled  = "CANCELLED"
	StatusTimedOut   = "TIMED_OUT"
)

const taskFields = `id type status priority input result error attempts failures maxRetries timeoutSeconds
progress progressMessage nodeId metadata cancelRequested createdAt updatedAt startedAt completedAt
retryBackoffMs maxBackoffMs runAt uniqueKey uniqueForSeconds duplicate schedule workflowId stepKey
heldBy group traceId`

// TaskSpec is a submission.
type TaskSpec struct {
	Type string
	// Input is the task's JSON input (nil: null).
	Input json.RawMessage
	// Priority is LOW, NORMAL, HIGH or CRITICAL ("" : NORMAL).
	Priority string
	// Timeout of one attempt (0: the cluster's default).
	Timeout time.Duration
	// MaxRetries (nil: the cluster's default).
	MaxRetries *int
	Metadata   json.RawMessage
	// RetryBackoff is the task's own backoff after its first failure and
	// MaxBackoff its longest (0: the cluster's). The API counts whole
	// milliseconds: a part of one is rounded up.
	RetryBackoff time.Duration
	MaxBackoff   time.Duration
	// RunAt or Delay (not both) make the task SCHEDULED until then.
	RunAt time.Time
	Delay time.Duration
	// UniqueKey makes the task the only one with this key while it is
	// unfinished and for UniqueFor after it finished; OnDuplicate is
	// "RETURN_EXISTING" (the default: the holder is returned, with
	// Duplicate set) or "REPLACE" (the holder is cancelled).
	UniqueKey   string
	UniqueFor   time.Duration
	OnDuplicate string
	// Group is the group the task belongs to, typically a campaign id
	// ("": none): placement takes groups in turn, limits may count per
	// group, and lists and counts filter by it.
	Group string
}

func (s TaskSpec) vars() map[string]any {
	in := map[string]any{"type": s.Type}
	if s.Input != nil {
		in["input"] = s.Input
	}
	if s.Priority != "" {
		in["priority"] = s.Priority
	}
	if s.Timeout > 0 {
		in["timeoutSeconds"] = s.Timeout.Seconds()
	}
	if s.MaxRetries != nil {
		in["maxRetries"] = *s.MaxRetries
	}
	if s.Metadata != nil {
		in["metadata"] = s.Metadata
	}
	if s.RetryBackoff != 0 {
		in["retryBackoffMs"] = ceilMillis(s.RetryBackoff)
	}
	if s.MaxBackoff != 0 {
		in["maxBackoffMs"] = ceilMillis(s.MaxBackoff)
	}
	if !s.RunAt.IsZero() {
		in["runAt"] = s.RunAt.Format(time.RFC3339Nano)
	}
	if s.Delay != 0 {
		in["delaySeconds"] = s.Delay.Seconds()
	}
	if s.UniqueKey != "" {
		in["uniqueKey"] = s.UniqueKey
	}
	if s.UniqueFor != 0 {
		in["uniqueForSeconds"] = s.UniqueFor.Seconds()
	}
	if s.OnDuplicate != "" {
		in["onDuplicate"] = s.OnDuplicate
	}
	if s.Group != "" {
		in["group"] = s.Group
	}
	return in
}

// ceilMillis is d in milliseconds, a positive part of one counting as one
// (so a positive backoff never becomes 0, which the API refuses).
func ceilMillis(d time.Duration) int64 {
	ms := d.Milliseconds()
	if d > 0 && d%time.Millisecond != 0 {
		ms++
	}
	return ms
}

// Filter selects tasks in List and Watch. Zero fields do not filter.
type Filter struct {
	Status   []string `json:"status,omitempty"`
	Type     string   `json:"type,omitempty"`
	Priority string   `json:"priority,omitempty"`
	NodeID   string   `json:"nodeId,omitempty"`
	Schedule string   `json:"schedule,omitempty"`
	// WorkflowID selects the steps of a workflow.
	WorkflowID string `json:"workflowId,omitempty"`
	// Group selects the tasks of a group.
	Group  string `json:"group,omitempty"`
	Search string `json:"search,omitempty"`
}

// TaskPage is one page of List.
type TaskPage struct {
	Tasks      []*Task
	TotalCount int
	HasNext    bool
	EndCursor  string
}

// Node is a cluster member (ProcessingNode).
type Node struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Address       string    `json:"address"`
	Role          string    `json:"role"`
	Status        string    `json:"status"`
	Capabilities  []string  `json:"capabilities"`
	Workers       int       `json:"workers"`
	ActiveTasks   int       `json:"activeTasks"`
	IsLeader      bool      `json:"isLeader"`
	Version       string    `json:"version"`
	ConfigVersion int       `json:"configVersion"`
	LastHeartbeat time.Time `json:"lastHeartbeat"`
	Health        struct {
		CPUPercent    float64 `json:"cpuPercent"`
		MemoryPercent float64 `json:"memoryPercent"`
		Load1         float64 `json:"load1"`
		Load5         float64 `json:"load5"`
		Load15        float64 `json:"load15"`
	} `json:"health"`
}

const nodeFields = `id name address role status capabilities workers activeTasks isLeader version configVersion
lastHeartbeat health { cpuPercent memoryPercent load1 load5 load15 }`

// Config is the cluster configuration (DistributedProcessingConfig), as
// JSON fields named like the API's.
type Config map[string]any

const configFields = `version enabled discovery peers heartbeatIntervalMs missedHeartbeats defaultTimeoutSeconds
defaultMaxRetries strategy faultTolerance thresholds { cpuPercent memoryPercent load1 } workers retentionSeconds failedRetentionSeconds
retryBackoffMs maxBackoffMs updatedAt`
