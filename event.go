package archivist

import "time"

// EventKind says what an event is about.
type EventKind string

// Event kinds.
const (
	EventTask     EventKind = "TASK"
	EventNode     EventKind = "NODE"
	EventConfig   EventKind = "CONFIG"
	EventSchedule EventKind = "SCHEDULE"
)

// EventType says what happened: the subject (task, node, config) and what
// became of it, as "subject.change". The values are part of the API: the
// dashboard, webhooks and stored events use them.
type EventType string

// Event types. Each name is Event, the subject and the change, as in the
// value.
const (
	EventTaskCreated         EventType = "task.created"
	EventTaskAssigned        EventType = "task.assigned"
	EventTaskStarted         EventType = "task.started"
	EventTaskProgress        EventType = "task.progress"
	EventTaskRetrying        EventType = "task.retrying"
	EventTaskCompleted       EventType = "task.completed"
	EventTaskFailed          EventType = "task.failed"
	EventTaskCancelled       EventType = "task.cancelled"
	EventTaskCancelRequested EventType = "task.cancel_requested"
	EventTaskTimedOut        EventType = "task.timed_out"
	EventTaskRequeued        EventType = "task.requeued"
	EventTaskRetried         EventType = "task.retried"
	EventTaskDue             EventType = "task.due"
	EventTaskStaleReport     EventType = "task.stale_report"
	// EventTaskHeld: a PENDING task is held back (Task.HeldBy says by
	// what); EventTaskUnheld: it is placeable again.
	EventTaskHeld        EventType = "task.held"
	EventTaskUnheld      EventType = "task.unheld"
	EventNodeUpdated     EventType = "node.updated"
	EventNodeRemoved     EventType = "node.removed"
	EventNodeLeader      EventType = "node.leader"
	EventConfigUpdated   EventType = "config.updated"
	EventScheduleUpdated EventType = "schedule.updated"
	EventScheduleDeleted EventType = "schedule.deleted"
)

// Event is one state change, recorded by the store in the same atomic step as
// the change. Seq grows by one for every event of a store. The Task, Node and
// Config of an event are shared by every subscriber: read them, never modify
// them (Clone first).
type Event struct {
	Seq    uint64    `json:"seq"`
	Kind   EventKind `json:"kind"`
	Type   EventType `json:"type"`
	Time   time.Time `json:"time"`
	Task   *Task     `json:"task,omitempty"`
	Node   *Node     `json:"node,omitempty"`
	Config *Config   `json:"config,omitempty"`
	// Schedule is the schedule of a SCHEDULE event (for schedule.deleted,
	// its last state).
	Schedule *Schedule `json:"schedule,omitempty"`
	// Workflow is the workflow of a WORKFLOW event: whole for
	// workflow.created; for workflow.updated an update, which holds the
	// workflow's state (Status, Error, times) and only the steps that
	// changed (released, ended, added or reset), not its Name and Metadata
	// (see Workflow.Merge), so that an event's size does not grow with the
	// workflow's.
	Workflow *Workflow `json:"workflow,omitempty"`
	// Detail is a human-readable note, such as why a report was rejected.
	Detail string `json:"detail,omitempty"`
}

// Subscription is a live feed of events. C is closed when the subscription
// ends; Err then says why (nil after the context ended, ErrSlowSubscriber
// when the subscriber could not keep up).
type Subscription interface {
	C() <-chan Event
	Err() error
	Close()
}

// ErrSlowSubscriber ends a subscription whose reader fell too far behind.
var ErrSlowSubscriber = Errorf(CodeConflict, "subscriber too slow: events were dropped; subscribe again to resync")
