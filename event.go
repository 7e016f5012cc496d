package archivist

import "time"

// EventKind says what an event is about.
type EventKind string

// Event kinds.
const (
	EventTask   EventKind = "TASK"
	EventNode   EventKind = "NODE"
	EventConfig EventKind = "CONFIG"
)

// What happened, in Event.Type.
const (
	TaskCreated         = "task.created"
	TaskAssignedEv      = "task.assigned"
	TaskStarted         = "task.started"
	TaskProgressed      = "task.progress"
	TaskRetryScheduled  = "task.retrying"
	TaskSucceeded       = "task.completed"
	TaskFailedEv        = "task.failed"
	TaskCancelledEv     = "task.cancelled"
	TaskCancelRequested = "task.cancel_requested"
	TaskTimedOutEv      = "task.timed_out"
	TaskRequeued        = "task.requeued"
	TaskRetried         = "task.retried"
	TaskStaleReport     = "task.stale_report"
	NodeUpdated         = "node.updated"
	NodeRemoved         = "node.removed"
	LeaderChanged       = "node.leader"
	ConfigUpdated       = "config.updated"
)

// Event is one state change, recorded by the store in the same atomic step as
// the change. Seq grows by one for every event of a store. The Task, Node and
// Config of an event are shared by every subscriber: read them, never modify
// them (Clone first).
type Event struct {
	Seq    uint64    `json:"seq"`
	Kind   EventKind `json:"kind"`
	Type   string    `json:"type"`
	Time   time.Time `json:"time"`
	Task   *Task     `json:"task,omitempty"`
	Node   *Node     `json:"node,omitempty"`
	Config *Config   `json:"config,omitempty"`
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
