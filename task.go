package archivist

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// TaskStatus is where a task is in its lifecycle:
//
//	[SCHEDULED ->] PENDING -> ASSIGNED -> IN_PROGRESS -> COMPLETED | FAILED | CANCELLED
//
// with RETRYING (waiting out a backoff before it is PENDING again) on the way.
// A task submitted to run later is SCHEDULED until its RunAt; a workflow
// step is WAITING until the steps it depends on completed.
// TIMED_OUT is final: the last allowed attempt ran past its timeout. An
// attempt that times out with retries left goes to RETRYING.
type TaskStatus string

// Task statuses.
const (
	TaskScheduled  TaskStatus = "SCHEDULED"
	TaskPending    TaskStatus = "PENDING"
	TaskAssigned   TaskStatus = "ASSIGNED"
	TaskInProgress TaskStatus = "IN_PROGRESS"
	TaskRetrying   TaskStatus = "RETRYING"
	TaskCompleted  TaskStatus = "COMPLETED"
	TaskFailed     TaskStatus = "FAILED"
	TaskCancelled  TaskStatus = "CANCELLED"
	TaskTimedOut   TaskStatus = "TIMED_OUT"
)

// AllTaskStatuses lists every status in lifecycle order.
var AllTaskStatuses = []TaskStatus{TaskScheduled, TaskWaiting, TaskPending, TaskAssigned, TaskInProgress, TaskRetrying,
	TaskCompleted, TaskFailed, TaskCancelled, TaskTimedOut}

// Terminal reports whether no further transition happens from s (except an
// explicit retry by a user).
func (s TaskStatus) Terminal() bool {
	switch s {
	case TaskCompleted, TaskFailed, TaskCancelled, TaskTimedOut:
		return true
	}
	return false
}

// Valid reports whether s is a known status.
func (s TaskStatus) Valid() bool {
	for _, v := range AllTaskStatuses {
		if v == s {
			return true
		}
	}
	return false
}

// Priority orders ready tasks: critical first, FIFO within a priority.
type Priority string

// Priorities, lowest first.
const (
	PriorityLow      Priority = "LOW"
	PriorityNormal   Priority = "NORMAL"
	PriorityHigh     Priority = "HIGH"
	PriorityCritical Priority = "CRITICAL"
)

// AllPriorities lists the priorities from highest to lowest.
var AllPriorities = []Priority{PriorityCritical, PriorityHigh, PriorityNormal, PriorityLow}

// Rank is 3 for CRITICAL down to 0 for LOW, and -1 for an unknown priority.
func (p Priority) Rank() int {
	switch p {
	case PriorityLow:
		return 0
	case PriorityNormal:
		return 1
	case PriorityHigh:
		return 2
	case PriorityCritical:
		return 3
	}
	return -1
}

// Valid reports whether p is a known priority.
func (p Priority) Valid() bool { return p.Rank() >= 0 }

// Task is one unit of work. The store owns its lifecycle fields; callers set
// only the submission fields (Type, Input, Priority, Timeout, MaxRetries,
// RetryBackoff, MaxBackoff, Metadata, RunAt or Delay, UniqueKey, UniqueFor,
// OnDuplicate, Schedule) and, optionally, ID.
type Task struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Input      json.RawMessage `json:"input,omitempty"`
	Priority   Priority        `json:"priority"`
	Timeout    time.Duration   `json:"timeout"`
	MaxRetries int             `json:"maxRetries"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	// RetryBackoff and MaxBackoff are the task's own retry backoff (the
	// wait after its first failure, and the most it grows to); 0 is the
	// cluster's (Config.RetryBackoff, Config.MaxBackoff), read when the
	// retry happens. See RetryPolicy.ForTask for how they combine.
	RetryBackoff time.Duration `json:"retryBackoff,omitempty"`
	MaxBackoff   time.Duration `json:"maxBackoff,omitempty"`
	// Delay, on submission only, asks the store to set RunAt to its own
	// clock's now plus Delay (so that the clocks of the nodes do not
	// matter). It is not kept.
	Delay time.Duration `json:"-"`
	// UniqueKey, when set, makes the task the only one with this key while
	// it is unfinished and for UniqueFor after it finished (see
	// Store.CreateTasks). OnDuplicate, on submission only, says what a
	// submission with a key held by another task does.
	UniqueKey   string          `json:"uniqueKey,omitempty"`
	UniqueFor   time.Duration   `json:"uniqueFor,omitempty"`
	OnDuplicate DuplicatePolicy `json:"-"`
	// Duplicate is set by CreateTasks on a submission that found its
	// UniqueKey held: the task returned is the holder. It is not kept.
	Duplicate bool `json:"-"`
	// Schedule is the name of the schedule that submitted the task, if one
	// did.
	Schedule string `json:"schedule,omitempty"`
	// Trace is the W3C traceparent of the submission's span when tracing
	// is on (see package tracing): the placement and every attempt of the
	// task are spans of that trace, on whichever node runs them. The store
	// keeps it as given.
	Trace string `json:"trace,omitempty"`
	// WorkflowID and StepKey name the workflow and step a task is, if it is
	// one (see Workflow); the store keeps them.
	WorkflowID string `json:"workflowId,omitempty"`
	StepKey    string `json:"stepKey,omitempty"`
	// Group is what fair share and limits count the task under, typically
	// the campaign it works for. Among ready tasks of one priority,
	// placement takes groups in turn (see Turn); a Limit may count per
	// group. "" is a group of its own: the tasks submitted without one.
	Group string `json:"group,omitempty"`
	// Turn is the task's place in its priority's fair queue, which the
	// store gives it when it first becomes PENDING: ready tasks are placed
	// by priority, then Turn (ties by Seq; on Redis by id, which starts
	// with the submission time). A group's tasks take turns one after
	// another, and a group that had nothing queued starts at the turn
	// being placed now, so it does not wait behind another group's
	// backlog. A task put back (a lost node, a retry) keeps its turn.
	Turn uint64 `json:"turn,omitempty"`
	// HeldBy, on a PENDING task, says why placement passes over it:
	// HeldPaused when its type is paused, or HeldByLimit(id) when a limit
	// it counts under is full. "" for a task that waits only for a worker.
	HeldBy string `json:"heldBy,omitempty"`

	Status TaskStatus      `json:"status"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
	// Attempt is the number of the current (or last) attempt; 0 before the
	// first run. A worker's report is accepted only for the current attempt.
	Attempt int `json:"attempt"`
	// Failures counts attempts that failed or timed out; retries stop when it
	// passes MaxRetries. Attempts lost with their node do not count.
	Failures int `json:"failures"`
	// Requeues counts attempts put back because their node was lost or shut
	// down; past MaxRequeues the task fails rather than crash node after node.
	Requeues        int     `json:"requeues"`
	Progress        float64 `json:"progress"`
	ProgressMessage string  `json:"progressMessage,omitempty"`
	// NodeID is the node the task is (or was last) placed on.
	NodeID string `json:"nodeId,omitempty"`
	// CancelRequested is set when a running task is asked to stop.
	CancelRequested bool `json:"cancelRequested,omitempty"`

	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	AssignedAt  time.Time `json:"assignedAt,omitzero"`
	StartedAt   time.Time `json:"startedAt,omitzero"`
	CompletedAt time.Time `json:"completedAt,omitzero"`
	// RunAt is when a SCHEDULED task becomes PENDING (on submission: when
	// to run it; a time not after the store's now is now), and when a
	// RETRYING task becomes PENDING again. A task that was SCHEDULED keeps
	// its due time once PENDING (its wait counts from it), until a retry.
	RunAt time.Time `json:"runAt,omitzero"`
	// LeaseUntil is when an ASSIGNED or IN_PROGRESS task is taken back from
	// its node if nothing was heard of it.
	LeaseUntil time.Time `json:"leaseUntil,omitzero"`
	// Seq orders tasks by submission; the store sets it.
	Seq uint64 `json:"seq"`
}

// MaxRequeues bounds how often a task is put back after losing its node.
const MaxRequeues = 10

// Clone returns a deep copy of t.
func (t *Task) Clone() *Task {
	if t == nil {
		return nil
	}
	c := *t
	c.Input = cloneRaw(t.Input)
	c.Metadata = cloneRaw(t.Metadata)
	c.Result = cloneRaw(t.Result)
	return &c
}

func cloneRaw(r json.RawMessage) json.RawMessage {
	if r == nil {
		return nil
	}
	return append(json.RawMessage(nil), r...)
}

// Limits on what a submission may carry.
const (
	// MaxInputBytes is the largest task input (and metadata) accepted.
	MaxInputBytes = 1 << 20
	// MaxResultBytes is the largest result kept; a larger one fails the attempt.
	MaxResultBytes = 4 << 20
	// MaxTimeout is the longest timeout a task may ask for.
	MaxTimeout = 24 * time.Hour
	// MaxMaxRetries is the most retries a task may ask for.
	MaxMaxRetries = 100
	// MaxTaskBackoff is the longest retry backoff (either value) a task may
	// ask for: a longer wait is a schedule, not a retry.
	MaxTaskBackoff = 24 * time.Hour
	// MaxDelay is how far ahead a task may be scheduled.
	MaxDelay = 366 * 24 * time.Hour
	// MaxUniqueFor is the longest a finished task may keep its unique key.
	MaxUniqueFor = 30 * 24 * time.Hour
	// MaxUniqueKeyBytes is the longest unique key.
	MaxUniqueKeyBytes = 512
	// MaxGroupBytes is the longest group name.
	MaxGroupBytes = 256
)

// AnyGroup, as a Limit's Group, makes the limit count each group
// separately. No task may be in it.
const AnyGroup = "*"

// CheckGroup checks a task's group: at most MaxGroupBytes, no control
// characters, not blank unless empty, and not AnyGroup.
func CheckGroup(g string) error {
	switch {
	case g == "":
		return nil
	case len(g) > MaxGroupBytes:
		return Errorf(CodeBadUserInput, "group is %d bytes; the limit is %d", len(g), MaxGroupBytes)
	case strings.TrimSpace(g) == "":
		return Errorf(CodeBadUserInput, "group must not be blank")
	case g == AnyGroup:
		return Errorf(CodeBadUserInput, "group %q is reserved (a limit's \"each group\"); name the group", AnyGroup)
	case strings.IndexFunc(g, unicode.IsControl) >= 0:
		return Errorf(CodeBadUserInput, "group must not hold control characters")
	}
	return nil
}

// DuplicatePolicy says what a submission whose UniqueKey is held by another
// task does.
type DuplicatePolicy string

// Duplicate policies.
const (
	// DuplicateReturnExisting (the default) creates nothing and returns the
	// task that holds the key.
	DuplicateReturnExisting DuplicatePolicy = "RETURN_EXISTING"
	// DuplicateReplace cancels the holder if it is unfinished (an
	// IN_PROGRESS one is asked to stop) and creates the new task, which
	// takes the key. With a delay it is a debounce.
	DuplicateReplace DuplicatePolicy = "REPLACE"
)

// Valid reports whether p is a known policy ("" is the default).
func (p DuplicatePolicy) Valid() bool {
	return p == "" || p == DuplicateReturnExisting || p == DuplicateReplace
}

// TaskSpec is a submission: what a client asks to run.
type TaskSpec struct {
	Type       string
	Input      json.RawMessage
	Priority   Priority
	Timeout    time.Duration // 0: the configured default
	MaxRetries *int          // nil: the configured default
	Metadata   json.RawMessage
	// RetryBackoff and MaxBackoff are the task's own backoff; nil: the
	// cluster's (Task.RetryBackoff).
	RetryBackoff *time.Duration
	MaxBackoff   *time.Duration
	// RunAt or Delay (not both) make the task SCHEDULED until then; a RunAt
	// not in the future means now.
	RunAt time.Time
	Delay time.Duration
	// UniqueKey, UniqueFor and OnDuplicate: see Task.
	UniqueKey   string
	UniqueFor   time.Duration
	OnDuplicate DuplicatePolicy
	// Group: see Task.Group.
	Group string
}

// NewTask validates spec against the registry and the limits and returns the
// task to store, with defaults from cfg. Errors are BAD_USER_INPUT.
func NewTask(spec TaskSpec, reg *Registry, cfg Config) (*Task, error) {
	return newTask(spec, reg, cfg, true)
}

// newTask is NewTask; validate false leaves out the handler's check of the
// input (a workflow step whose input holds $refs is checked once they are
// resolved, before each attempt).
func newTask(spec TaskSpec, reg *Registry, cfg Config, validate bool) (*Task, error) {
	typ := strings.TrimSpace(spec.Type)
	if typ == "" {
		return nil, Errorf(CodeBadUserInput, "task type is required")
	}
	h, ok := reg.Lookup(typ)
	if !ok {
		return nil, Errorf(CodeBadUserInput, "unknown task type %q; known types: %s", Clip(typ), strings.Join(reg.Types(), ", "))
	}
	input := spec.Input
	if len(input) == 0 {
		input = json.RawMessage("null")
	}
	if len(input) > MaxInputBytes {
		return nil, Errorf(CodeBadUserInput, "input is %d bytes; the limit is %d", len(input), MaxInputBytes)
	}
	if !json.Valid(input) {
		return nil, Errorf(CodeBadUserInput, "input is not valid JSON")
	}
	if len(spec.Metadata) > MaxInputBytes {
		return nil, Errorf(CodeBadUserInput, "metadata is %d bytes; the limit is %d", len(spec.Metadata), MaxInputBytes)
	}
	if len(spec.Metadata) > 0 && !json.Valid(spec.Metadata) {
		return nil, Errorf(CodeBadUserInput, "metadata is not valid JSON")
	}
	prio := spec.Priority
	if prio == "" {
		prio = PriorityNormal
	}
	if !prio.Valid() {
		return nil, Errorf(CodeBadUserInput, "unknown priority %q; use LOW, NORMAL, HIGH or CRITICAL", Clip(string(prio)))
	}
	timeout := spec.Timeout
	switch {
	case timeout < 0:
		return nil, Errorf(CodeBadUserInput, "timeout must not be negative")
	case timeout == 0:
		timeout = cfg.DefaultTimeout
	case timeout > MaxTimeout:
		return nil, Errorf(CodeBadUserInput, "timeout %s is over the limit of %s", timeout, MaxTimeout)
	}
	retries := cfg.DefaultMaxRetries
	if spec.MaxRetries != nil {
		retries = *spec.MaxRetries
	}
	if retries < 0 || retries > MaxMaxRetries {
		return nil, Errorf(CodeBadUserInput, "maxRetries must be between 0 and %d", MaxMaxRetries)
	}
	base, err := taskBackoff("retryBackoff", spec.RetryBackoff)
	if err != nil {
		return nil, err
	}
	maxBackoff, err := taskBackoff("maxBackoff", spec.MaxBackoff)
	if err != nil {
		return nil, err
	}
	if base > 0 && maxBackoff > 0 && maxBackoff < base {
		return nil, Errorf(CodeBadUserInput, "maxBackoff %s must not be under retryBackoff %s", maxBackoff, base)
	}
	if err := checkWhen(spec.RunAt, spec.Delay); err != nil {
		return nil, err
	}
	if err := checkUnique(spec.UniqueKey, spec.UniqueFor, spec.OnDuplicate); err != nil {
		return nil, err
	}
	if err := CheckGroup(spec.Group); err != nil {
		return nil, err
	}
	if v, ok := h.(InputValidator); ok && validate {
		if err := v.ValidateInput(input); err != nil {
			return nil, Errorf(CodeBadUserInput, "invalid input for %s: %v", typ, err)
		}
	}
	return &Task{
		RunAt:       spec.RunAt,
		Delay:       spec.Delay,
		UniqueKey:   spec.UniqueKey,
		UniqueFor:   spec.UniqueFor,
		Group:       spec.Group,
		OnDuplicate: spec.OnDuplicate,
		Type:        typ,
		Input:       input,
		Priority:    prio,
		Timeout:     timeout,
		MaxRetries:  retries,
		Metadata:    spec.Metadata,
		// Only what was given: the cluster's values are read at retry time,
		// so a change of the configuration reaches tasks that kept them.
		RetryBackoff: base,
		MaxBackoff:   maxBackoff,
	}, nil
}

// taskBackoff checks one of a submission's backoff values; nil is 0 (the
// cluster's).
func taskBackoff(name string, d *time.Duration) (time.Duration, error) {
	switch {
	case d == nil:
		return 0, nil
	case *d <= 0:
		return 0, Errorf(CodeBadUserInput, "%s must be above 0 (leave it out for the cluster's)", name)
	case *d > MaxTaskBackoff:
		return 0, Errorf(CodeBadUserInput, "%s %s is over the limit of %s", name, *d, MaxTaskBackoff)
	}
	return *d, nil
}

// checkWhen checks a submission's run time: RunAt or Delay, not both, and
// not beyond MaxDelay from now.
func checkWhen(runAt time.Time, delay time.Duration) error {
	switch {
	case !runAt.IsZero() && delay != 0:
		return Errorf(CodeBadUserInput, "give runAt or delaySeconds, not both")
	case delay < 0:
		return Errorf(CodeBadUserInput, "delaySeconds must not be negative")
	case delay > MaxDelay:
		return Errorf(CodeBadUserInput, "delay %s is over the limit of %s", delay, MaxDelay)
	case !runAt.IsZero() && time.Until(runAt) > MaxDelay:
		return Errorf(CodeBadUserInput, "runAt %s is more than %s ahead", runAt.UTC().Format(time.RFC3339), MaxDelay)
	}
	return nil
}

// checkUnique checks a submission's unique key and what goes with it.
func checkUnique(key string, uniqueFor time.Duration, onDup DuplicatePolicy) error {
	switch {
	case key == "" && (uniqueFor != 0 || onDup != ""):
		return Errorf(CodeBadUserInput, "uniqueForSeconds and onDuplicate need a uniqueKey")
	case len(key) > MaxUniqueKeyBytes:
		return Errorf(CodeBadUserInput, "uniqueKey is %d bytes; the limit is %d", len(key), MaxUniqueKeyBytes)
	case key != "" && strings.TrimSpace(key) == "":
		return Errorf(CodeBadUserInput, "uniqueKey must not be blank")
	case uniqueFor < 0:
		return Errorf(CodeBadUserInput, "uniqueForSeconds must not be negative")
	case uniqueFor > MaxUniqueFor:
		return Errorf(CodeBadUserInput, "uniqueFor %s is over the limit of %s", uniqueFor, MaxUniqueFor)
	case !onDup.Valid():
		return Errorf(CodeBadUserInput, "unknown onDuplicate %q; use RETURN_EXISTING or REPLACE", Clip(string(onDup)))
	}
	return nil
}

// UniqueHeld reports whether t, the task a unique key points to, still
// holds it at now: while unfinished, and for UniqueFor after it finished.
func (t *Task) UniqueHeld(now time.Time) bool {
	if !t.Status.Terminal() {
		return true
	}
	return t.UniqueFor > 0 && now.Before(t.CompletedAt.Add(t.UniqueFor))
}

// ReadySince is when a PENDING task began waiting to be placed, and where a
// started task's wait counts from: its submission, or for a task submitted
// to run later its due time, which it keeps once PENDING (RunAt; a RETRYING
// task's RunAt is its retry, cleared when it is PENDING again).
// lua/lib.lua's stat_task_end and the dashboard's waitedFrom follow the
// same rule.
func (t *Task) ReadySince() time.Time {
	if t.RunAt.After(t.CreatedAt) {
		return t.RunAt
	}
	return t.CreatedAt
}

// String is for logs.
func (t *Task) String() string {
	return fmt.Sprintf("task %s (%s, %s, attempt %d)", t.ID, t.Type, t.Status, t.Attempt)
}
