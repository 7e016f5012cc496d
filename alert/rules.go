// Package alert evaluates alert rules over the cluster's state: a node
// offline, a failure rate over a limit in a window, a task pending too long,
// a node busy too long. Every node evaluates them (so its API shows them);
// only the leader delivers firing and resolved alerts to webhooks, with
// retries and backoff.
package alert

import (
	"cmp"
	"fmt"
	"time"
)

// Rules are the alert rules. Zero values mean the defaults; a negative
// value turns a rule off.
type Rules struct {
	// NodeOfflineOff turns the node-offline rule off (on by default).
	NodeOfflineOff bool
	// FailureRate is the percentage of finished attempts that failed or
	// timed out, over FailureWindow, above which an alert fires (default
	// 20; negative: off).
	FailureRate float64
	// FailureWindow (default 5m).
	FailureWindow time.Duration
	// FailureMinTasks is how many finished tasks the window needs before
	// the rate means anything (default 10).
	FailureMinTasks int
	// PendingAge is how old the oldest PENDING task may get (default 10m;
	// negative: off).
	PendingAge time.Duration
	// BusyFor is how long a node may stay BUSY (default 5m; negative: off).
	BusyFor time.Duration
}

// Defaults of Rules.
const (
	DefaultFailureRate     = 20.0
	DefaultFailureWindow   = 5 * time.Minute
	DefaultFailureMinTasks = 10
	DefaultPendingAge      = 10 * time.Minute
	DefaultBusyFor         = 5 * time.Minute
)

func (r Rules) withDefaults() Rules {
	// A negative value stays: it turns the rule off.
	r.FailureRate = cmp.Or(r.FailureRate, DefaultFailureRate)
	r.PendingAge = cmp.Or(r.PendingAge, DefaultPendingAge)
	r.BusyFor = cmp.Or(r.BusyFor, DefaultBusyFor)
	if r.FailureWindow <= 0 {
		r.FailureWindow = DefaultFailureWindow
	}
	if r.FailureMinTasks <= 0 {
		r.FailureMinTasks = DefaultFailureMinTasks
	}
	return r
}

// Validate reports rules that cannot work.
func (r Rules) Validate() error {
	if r.FailureRate > 100 {
		return fmt.Errorf("failure rate %.1f%% is over 100%%", r.FailureRate)
	}
	return nil
}
