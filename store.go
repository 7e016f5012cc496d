package archivist

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Store is the one seam to shared state. Every method that changes a task is
// one atomic step that also records the event(s) of the change; a process
// killed at any instant leaves every task either queued or held by a lease
// that expires. Errors carry codes: NOT_FOUND for an unknown id, CONFLICT for
// a transition that is not allowed from the task's current state or for a
// stale attempt or leadership token.
//
// Implementations: store.Memory (throwaway), store.Bolt (embedded, durable)
// and, for a cluster, the Redis store. store/storetest is the conformance
// suite all of them pass.
type Store interface {
	// CreateTasks stores new tasks, filling ID (when empty), Seq, Status and
	// timestamps, and records task.created for each. All or none, in order.
	//
	// A task is PENDING, or SCHEDULED when its RunAt (or the store's now
	// plus its Delay) is after the store's now; a SCHEDULED task becomes
	// PENDING on time (ReadyTasks, NextDue). A RunAt not after now is now.
	//
	// A task with a UniqueKey held by another task (Task.UniqueHeld, also
	// an earlier task of the same call) is not created when OnDuplicate is
	// RETURN_EXISTING (or empty): *task becomes a copy of the holder with
	// Duplicate set, and nothing is recorded for it. With REPLACE the
	// holder, if unfinished, is cancelled as CancelTask does (an
	// IN_PROGRESS one is asked to stop), and the task is created and takes
	// the key.
	CreateTasks(ctx context.Context, tasks []*Task) error
	// GetTask returns a task by id.
	GetTask(ctx context.Context, id string) (*Task, error)
	// ListTasks returns tasks newest first, filtered and paginated.
	ListTasks(ctx context.Context, q TaskQuery) (*TaskPage, error)
	// CountTasks returns how many tasks the store holds in each status.
	CountTasks(ctx context.Context) (map[TaskStatus]int, error)
	// CountGroups returns how many tasks of each named group (Task.Group)
	// the store holds in each status, kept as counters (no task is read):
	// for the groups given, or, with none, for every group that has tasks
	// (finished ones count until they are purged). A group with no task,
	// and the tasks without a group, are not listed; a status with no task
	// is absent.
	CountGroups(ctx context.Context, groups ...string) (map[string]map[TaskStatus]int, error)

	// CancelTask cancels a task: SCHEDULED, PENDING, RETRYING and ASSIGNED ones at once;
	// an IN_PROGRESS one is marked CancelRequested (event
	// task.cancel_requested) and ends CANCELLED when its worker stops it or
	// its lease runs out. A finished task gives CONFLICT.
	CancelTask(ctx context.Context, id string) (*Task, error)
	// RetryTask puts a FAILED, CANCELLED or TIMED_OUT task back to PENDING
	// with its failure count reset. Other states give CONFLICT.
	RetryTask(ctx context.Context, id string) (*Task, error)

	// ReadyTasks returns up to limit PENDING tasks in placement order
	// (priority, then submission), first moving SCHEDULED tasks whose time
	// came (event task.due) and RETRYING tasks whose backoff is over (event
	// task.requeued) to PENDING, a bounded number per call (NextDue is then
	// 0 when more are due).
	ReadyTasks(ctx context.Context, limit int) ([]*Task, error)
	// NextDue returns how long, by the store's clock, until the earliest
	// SCHEDULED or RETRYING task is due (0 when one is due now), and false
	// when no task waits for a time. The leader sleeps that long rather
	// than polling.
	NextDue(ctx context.Context) (time.Duration, bool, error)
	// AssignTasks moves PENDING tasks to ASSIGNED on the given nodes, if
	// lease is still the current leadership. Tasks no longer PENDING are
	// skipped; the assigned ones are returned. A stale lease gives CONFLICT
	// and changes nothing.
	//
	// An assignment with Start set starts its task at once instead, as a
	// claim would right after: IN_PROGRESS on the node as a new attempt
	// (AssignedAt and StartedAt both now, a lease of its timeout plus
	// Grace), one event task.started. The leader uses it for its own
	// node's free workers, which saves the claim's round trip.
	AssignTasks(ctx context.Context, lease Lease, assignments []Assignment, claimWithin time.Duration) ([]*Task, error)
	// NodeLoads returns how many ASSIGNED and IN_PROGRESS tasks each node
	// holds.
	NodeLoads(ctx context.Context) (map[string]int, error)
	// RecoverExpired takes back tasks whose lease ran out: ASSIGNED ones
	// return to PENDING (not a failure); IN_PROGRESS ones count as a timed
	// out attempt (RETRYING after backoff, or TIMED_OUT when no retry is
	// left, or CANCELLED when a cancel was requested).
	RecoverExpired(ctx context.Context, lease Lease, retry RetryPolicy) ([]*Task, error)
	// RequeueNode puts every ASSIGNED and IN_PROGRESS task of a lost node
	// back to PENDING at once, not counting a failure (but a Requeue). The
	// leader uses it with fault tolerance on; FailNode with it off.
	RequeueNode(ctx context.Context, lease Lease, nodeID string) ([]*Task, error)
	// FailNode is RequeueNode with fault tolerance off: nothing that may
	// have run is run again. The node's IN_PROGRESS tasks end FAILED with
	// reason as their error (one failure counted; CANCELLED instead when a
	// cancel was requested); its ASSIGNED tasks, which the store shows were
	// never claimed and so never started, go back to PENDING as
	// RequeueNode puts them. Refused (CONFLICT, nothing changed) when lease
	// is no longer current; all of it is one atomic step, one event per
	// task.
	FailNode(ctx context.Context, lease Lease, nodeID, reason string) ([]*Task, error)
	// PurgeFinished removes finished tasks past their retention: FAILED
	// and TIMED_OUT ones that finished before failedBefore, the others
	// (COMPLETED, CANCELLED) that finished before before.
	PurgeFinished(ctx context.Context, before, failedBefore time.Time) (int, error)

	// CancelTasks cancels, as CancelTask does each, the unfinished tasks
	// among ids (a running one is asked to stop, unless it was already),
	// in one atomic step, and returns how many it changed. Unknown ids and
	// the other tasks are skipped. Callers pass at most MaxBulkBatch ids
	// (see BulkTasks).
	CancelTasks(ctx context.Context, ids []string) (int, error)
	// RetryTasks retries, as RetryTask does each, the FAILED, CANCELLED
	// and TIMED_OUT tasks among ids that are not workflow steps, in one
	// atomic step, and returns how many it put back; it skips the others.
	RetryTasks(ctx context.Context, ids []string) (int, error)
	// DeleteTasks removes the finished tasks among ids that are not
	// workflow steps (their unique keys go with them, as PurgeFinished
	// removes tasks; no event is recorded, as for purged tasks), in one
	// atomic step, and returns how many it removed; it skips the others.
	DeleteTasks(ctx context.Context, ids []string) (int, error)

	// ClaimTasks moves up to limit tasks ASSIGNED to nodeID to IN_PROGRESS,
	// starting a new attempt each, with a lease of the task's timeout plus
	// grace. Tasks are returned in placement order.
	ClaimTasks(ctx context.Context, nodeID string, limit int, grace time.Duration) ([]*Task, error)
	// ClaimTask is ClaimTasks for one task that need not be assigned: a
	// PENDING task is started directly on nodeID (local processing).
	ClaimTask(ctx context.Context, nodeID, id string, grace time.Duration) (*Task, error)
	// ReportProgress records progress of the given attempt.
	ReportProgress(ctx context.Context, id string, attempt int, progress float64, message string) error
	// CompleteTask finishes the given attempt with its result.
	CompleteTask(ctx context.Context, id string, attempt int, result json.RawMessage) (*Task, error)
	// FailTask records that the given attempt failed; see Failure.
	FailTask(ctx context.Context, id string, attempt int, f Failure) (*Task, error)
	// ReleaseTask gives a running attempt back unfinished (a graceful
	// shutdown, or a restart finding its old attempts): the task is PENDING
	// again, no failure counted. Only the current IN_PROGRESS attempt can be
	// released; anything else gives CONFLICT. With fault tolerance off the
	// worker pool does not release attempts: it fails them (FailTask with
	// a Permanent failure), so that none runs twice.
	ReleaseTask(ctx context.Context, id string, attempt int) (*Task, error)

	// Heartbeat stores the node's self-description (keeping Draining as the
	// store has it, and with the node's settings applied over it: a
	// heartbeat described before a settings change does not undo it) and
	// records node.updated. It returns the stored node.
	Heartbeat(ctx context.Context, n *Node) (*Node, error)
	// GetNode returns a node by id.
	GetNode(ctx context.Context, id string) (*Node, error)
	// ListNodes returns all known nodes, sorted by id.
	ListNodes(ctx context.Context) ([]*Node, error)
	// SetDraining sets or clears a node's Draining flag.
	SetDraining(ctx context.Context, id string, draining bool) (*Node, error)
	// RemoveNode forgets a node (event node.removed). Its settings stay.
	RemoveNode(ctx context.Context, id string) error
	// NodeSettings returns the settings kept for node id: zero ones when
	// none were set (not an error, also for an unknown id).
	NodeSettings(ctx context.Context, id string) (NodeSettings, error)
	// SetNodeSettings merges s into the settings kept for a registered node
	// (the settings s sets replace the stored ones, the others stay), applies
	// them to the node's stored description at once (name, role, workers,
	// capabilities) and records node.updated with Detail NodeSettingsDetail.
	// It returns the node. An unknown node gives NOT_FOUND, invalid settings
	// BAD_USER_INPUT. Settings survive RemoveNode.
	SetNodeSettings(ctx context.Context, id string, s NodeSettings) (*Node, error)

	// Campaign acquires leadership for nodeID, or renews it when nodeID holds
	// it, for ttl. It returns the current lease, whoever holds it; a new
	// holder gets a larger Token than any before.
	Campaign(ctx context.Context, nodeID string, ttl time.Duration) (Lease, error)
	// Resign gives up leadership if nodeID holds it.
	Resign(ctx context.Context, nodeID string) error
	// Leader returns the current lease (zero when none is held).
	Leader(ctx context.Context) (Lease, error)

	// Config returns the stored configuration, or DefaultConfig with version
	// 0 when none was stored.
	Config(ctx context.Context) (Config, error)
	// UpdateConfig stores cfg as version prev+1 if the stored version is
	// still prev; otherwise CONFLICT.
	UpdateConfig(ctx context.Context, cfg Config, prev int64) (Config, error)

	// CreateSchedule stores a new schedule (CONFLICT when its name is
	// taken, or when MaxSchedules exist already), filling CreatedAt and
	// UpdatedAt, and records schedule.updated. The caller has validated it
	// and computed NextRunAt.
	CreateSchedule(ctx context.Context, s *Schedule) error
	// UpdateSchedule replaces the definition of an existing schedule (Cron,
	// Timezone, Every, Task, Overlap, Misfire and NextRunAt) and keeps its
	// state (Paused, LastRunAt, LastTaskID, CreatedAt); it records
	// schedule.updated and returns the stored schedule. NOT_FOUND for an
	// unknown name.
	UpdateSchedule(ctx context.Context, s *Schedule) (*Schedule, error)
	// GetSchedule returns a schedule by name.
	GetSchedule(ctx context.Context, name string) (*Schedule, error)
	// ListSchedules returns every schedule, sorted by name.
	ListSchedules(ctx context.Context) ([]*Schedule, error)
	// PauseSchedule sets or clears Paused; resuming also sets NextRunAt to
	// next (ticks that came while paused are not run). It records
	// schedule.updated. A schedule that is already as asked is returned
	// unchanged (no event; resuming a running one keeps its NextRunAt).
	PauseSchedule(ctx context.Context, name string, paused bool, next time.Time) (*Schedule, error)
	// DeleteSchedule removes a schedule (event schedule.deleted). Tasks it
	// submitted stay.
	DeleteSchedule(ctx context.Context, name string) error
	// FireSchedule records one tick of a schedule and submits its task, in
	// one atomic step; see ScheduleFire.
	FireSchedule(ctx context.Context, f ScheduleFire) (*ScheduleFired, error)

	// CreateWorkflow stores w (its Seq, CreatedAt and UpdatedAt filled by
	// the store) and its steps' tasks (tasks[i] is step w.Steps[i]'s, as
	// NewWorkflow builds them) in one atomic step: all or nothing. A step
	// with no dependencies is PENDING, the others WAITING. It records
	// task.created for each task and workflow.created.
	CreateWorkflow(ctx context.Context, w *Workflow, tasks []*Task) error
	// GetWorkflow returns a workflow by id.
	GetWorkflow(ctx context.Context, id string) (*Workflow, error)
	// ListWorkflows returns workflows newest first, filtered and paginated
	// (First as TaskQuery's).
	ListWorkflows(ctx context.Context, q WorkflowQuery) (*WorkflowPage, error)
	// CancelWorkflow cancels a RUNNING workflow (Workflow.Cancel): every
	// unfinished step is cancelled as CancelTask does, in one atomic step.
	// Not RUNNING gives CONFLICT.
	CancelWorkflow(ctx context.Context, id string) (*Workflow, error)
	// RetryWorkflow runs again the steps of a FAILED or CANCELLED workflow
	// that did not complete (Workflow.Retry): their tasks become WAITING or
	// PENDING with failures, error and result cleared (event task.retried),
	// in one atomic step. Otherwise CONFLICT.
	RetryWorkflow(ctx context.Context, id string) (*Workflow, error)
	// AddWorkflowSteps adds steps (and their tasks, as NewWorkflowSteps
	// builds them) to the workflow of task id on behalf of its running
	// attempt (Workflow.AddSteps); a stale attempt gives CONFLICT. Steps
	// whose key exists are skipped, with their tasks. It returns the
	// workflow.
	AddWorkflowSteps(ctx context.Context, id string, attempt int, steps []WorkflowStep, tasks []*Task) (*Workflow, error)
	//
	// Every transition that ends a workflow step's task (COMPLETED, FAILED,
	// TIMED_OUT, CANCELLED, whatever method makes it) also applies
	// Workflow.StepEnded in the same atomic step: released steps go
	// WAITING -> PENDING (event task.released), the steps to cancel are
	// cancelled with the reason as the event's detail (which ends them in
	// turn), and the workflow's change is recorded (workflow.updated).
	// PurgeFinished removes a workflow once it left RUNNING and its last
	// step ended before the cutoff, with its steps' tasks; the tasks of a
	// workflow that has not ended are not purged. RetryTask of a step gives
	// CONFLICT (retry the workflow).

	// SetLimit stores a limit that NewLimit built, replacing the limit of
	// its ID (keeping its CreatedAt and the slots in use), and returns it
	// with its use (Running, Held, Groups). Tasks a raised or removed bound
	// no longer holds back become placeable again at once (HeldBy cleared,
	// event task.unheld): up to 1,000 in the same change, the others
	// through the ReadyTasks calls that follow, so that a large backlog
	// makes no long transition. More than MaxLimits limits give
	// BAD_USER_INPUT.
	//
	// Placement (AssignTasks, and ClaimTask of a PENDING task) takes a slot
	// of every limit that applies to the task (Limit.Applies, counted under
	// Limit.Key) and, for a limit with a rate, a token; a task that a full
	// limit or an empty bucket holds back stays PENDING with HeldBy set
	// (event task.held, once) and ReadyTasks no longer returns it, so the
	// ready tasks behind it are placed. A slot is given back when its task
	// leaves ASSIGNED and IN_PROGRESS by any transition (completion,
	// failure, retry, timeout, lease expiry, a lost node, release, cancel),
	// and the next task the limit holds (by placement order) becomes
	// placeable again; a rate-held task becomes placeable when the bucket
	// has a token again (NextDue counts that time). Tasks running when a
	// limit is set keep running and count from then on if they were placed
	// under it (a store may also count the ones already running: the
	// embedded and Redis stores do). ReadyTasks holds back at most 1,000
	// tasks per call (the leader runs again on task.held).
	SetLimit(ctx context.Context, l *Limit) (*Limit, error)
	// ListLimits returns every limit by ID, with its use.
	ListLimits(ctx context.Context) ([]*Limit, error)
	// DeleteLimit removes a limit; the tasks it held become placeable
	// again. An unknown id gives NOT_FOUND.
	DeleteLimit(ctx context.Context, id string) error
	// PauseTaskType pauses (paused true) or resumes a task type, and
	// reports whether that changed anything. A paused type's PENDING tasks
	// are held (HeldBy HeldPaused, event task.held, when ReadyTasks reaches
	// them) and not placed, nor started by ClaimTask; resuming makes them
	// placeable again (event task.unheld, in bounded steps as SetLimit
	// says). Running tasks are not touched.
	PauseTaskType(ctx context.Context, taskType string, paused bool) (bool, error)
	// PausedTaskTypes returns the paused task types, sorted.
	PausedTaskTypes(ctx context.Context) ([]string, error)

	// Stats returns cluster statistics over a window from the rollups the
	// store keeps (see Stats and StatsQuery.Normalize; a query outside the
	// rules gives BAD_USER_INPUT).
	Stats(ctx context.Context, q StatsQuery) (*Stats, error)

	// Subscribe returns events with Seq > after (0: only new ones). Events
	// older than the store keeps are skipped.
	Subscribe(ctx context.Context, after uint64) (Subscription, error)
	// LastSeq is the Seq of the newest event this store instance knows of
	// (on a shared store, possibly a moment behind another node's newest);
	// Subscribe(ctx, 0) starts after it.
	LastSeq(ctx context.Context) (uint64, error)

	// Close releases the store.
	Close() error
}

// Lease is leadership held by a node until Expires. Token grows with every
// new holder, so a placement made under an old lease is refused.
type Lease struct {
	Holder  string    `json:"holder"`
	Token   int64     `json:"token"`
	Expires time.Time `json:"expires"`
}

// HeldBy reports whether nodeID holds the lease at now.
func (l Lease) HeldBy(nodeID string, now time.Time) bool {
	return l.Holder != "" && l.Holder == nodeID && now.Before(l.Expires)
}

// Assignment places one task on one node.
type Assignment struct {
	TaskID string
	NodeID string
	// Start starts the task on the node in the same step (see
	// Store.AssignTasks), with a lease of its timeout plus Grace: for a
	// node whose worker pool has a slot set aside for it.
	Start bool
	Grace time.Duration
}

// Failure describes a failed attempt.
type Failure struct {
	Error string
	// Permanent: do not retry.
	Permanent bool
	// TimedOut: the attempt ran past its timeout.
	TimedOut bool
	// Cancelled: the attempt stopped because a cancel was requested.
	Cancelled bool
	// Retry decides whether and when to retry.
	Retry RetryPolicy
}

// TaskQuery filters (TaskFilter) and pages ListTasks.
type TaskQuery struct {
	TaskFilter
	// First is the page size (default 50, at most 500).
	First int
	// After is the cursor of the last task of the previous page: the
	// decimal Seq of that task (every store uses this form, so a cursor
	// from one node works on another).
	After string
	// SkipTotal: the caller does not need TotalCount, so a store may leave
	// it 0 and stop looking once it found the page (BulkTasks walks pages
	// this way, at the cost of the page only).
	SkipTotal bool
}

// TaskFilter selects tasks: a task passes when it matches every field set
// (an empty field selects all). It is the GraphQL API's TaskFilter, the
// query of ListTasks and the filter of the taskUpdated subscription.
type TaskFilter struct {
	// Status selects tasks in any of these statuses.
	Status   []TaskStatus
	Type     string
	Priority Priority
	NodeID   string
	// Schedule selects the tasks a schedule submitted.
	Schedule string
	// WorkflowID selects the steps of a workflow.
	WorkflowID string
	// Group selects the tasks of a group (Task.Group).
	Group string
	// Search matches a substring of the id, type or error, ignoring case.
	Search string
	// IDs selects the tasks of these ids (at most MaxBulkBatch): a
	// selection for a bulk operation. Empty selects all.
	IDs []string
}

// Matches reports whether t passes the filter. It is the one definition of
// what a filter selects: every store's ListTasks returns the tasks it selects (a store may find them
// through an index rather than by calling it, but the conformance suite
// holds it to this), and the taskUpdated subscription filters events with
// it. A new filter field goes here and in StatusOnly.
func (f TaskFilter) Matches(t *Task) bool {
	if len(f.Status) > 0 && !slices.Contains(f.Status, t.Status) {
		return false
	}
	if len(f.IDs) > 0 && !slices.Contains(f.IDs, t.ID) {
		return false
	}
	switch {
	case f.Type != "" && t.Type != f.Type,
		f.Priority != "" && t.Priority != f.Priority,
		f.NodeID != "" && t.NodeID != f.NodeID,
		f.Schedule != "" && t.Schedule != f.Schedule,
		f.WorkflowID != "" && t.WorkflowID != f.WorkflowID,
		f.Group != "" && t.Group != f.Group:
		return false
	}
	if f.Search == "" {
		return true
	}
	// Search ignores case: the lower-case forms are compared.
	search := strings.ToLower(f.Search)
	return strings.Contains(strings.ToLower(t.ID), search) ||
		strings.Contains(strings.ToLower(t.Type), search) ||
		strings.Contains(strings.ToLower(t.Error), search)
}

// StatusOnly reports whether f filters on nothing but Status (or on
// nothing): a store answers such a query from the counters and indexes it
// keeps by status instead of looking at every task.
func (f TaskFilter) StatusOnly() bool {
	return f.Type == "" && f.Priority == "" && f.NodeID == "" && f.Schedule == "" && f.WorkflowID == "" && f.Group == "" && f.Search == "" && len(f.IDs) == 0
}

// TaskPage is a page of tasks.
type TaskPage struct {
	Tasks      []*Task
	TotalCount int
	HasNext    bool
	EndCursor  string
}

// RoundReader is implemented by a store that reads what a placement round
// needs in one call (Redis: one round trip, not two): the node loads, as
// NodeLoads gives them, and the head of the ready queue, as ReadyTasks
// gives it. workers holds the nodes that may take tasks and their worker
// counts; free is the sum of their free slots (workers minus load, when
// positive), and the call reads limit = min(free + min(free, margin), max)
// tasks, none (and promotes none) when free is 0.
type RoundReader interface {
	ReadRound(ctx context.Context, workers map[string]int, margin, max int) (loads map[string]int, tasks []*Task, limit int, err error)
}

// RoundLimit is the number of ready tasks a placement round reads for free
// slots (see RoundReader).
func RoundLimit(free, margin, max int) int {
	return min(free+min(free, margin), max)
}

// Regainer is implemented by a store that can be out of reach (Redis): when
// this process last found it answering again after losing it (by the local
// clock), or zero if it never lost it.
type Regainer interface {
	RegainedAt() time.Time
}

// InHeartbeatGrace reports whether st came back from an outage less than
// missed heartbeat intervals ago. While no node could write its heartbeat,
// every heartbeat grew old: until they had the time to beat again, an old
// heartbeat does not make a node offline.
func InHeartbeatGrace(st Store, missed int, interval time.Duration) bool {
	r, ok := st.(Regainer)
	if !ok {
		return false
	}
	at := r.RegainedAt()
	if missed <= 0 {
		missed = DefaultMissedHeartbeats
	}
	if interval <= 0 {
		interval = DefaultHeartbeatInterval
	}
	return !at.IsZero() && time.Since(at) < time.Duration(missed+1)*interval
}
