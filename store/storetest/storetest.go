// Package storetest is the conformance suite of archivist.Store: every
// implementation (memory, bbolt, Redis standalone or Cluster) runs these cases
// unchanged, so that the scheduler, the worker pool and the API can rely on
// the contract written on the interface rather than on one implementation.
//
// The suite uses real time with short leases and bounded polling, never a
// fake clock: the Redis store takes its time from the server. Where it can, a
// case compares two timestamps that the store wrote in the same operation
// (LeaseUntil against StartedAt, RunAt against UpdatedAt) rather than the
// store's clock against the test's.
package storetest

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rpg-archivist/archivist"
)

const (
	// skew is how far apart the store's clock and the test's may be when a
	// case compares them (a Redis server's clock is not the test's).
	skew = 2 * time.Second
	// slack absorbs the time between two clock readings of one operation.
	slack = 50 * time.Millisecond
	// waitLimit bounds every wait for something to happen.
	waitLimit = 10 * time.Second
	// grace is the claim grace that cases without a timing concern use.
	grace = time.Second
	// longTTL is a leadership or claim window that no case outlives.
	longTTL = time.Minute
)

// Run runs the conformance suite. newStore returns a fresh, empty store for
// one subtest and registers its own cleanup; it is called once per subtest,
// and subtests run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) archivist.Store) {
	t.Helper()
	s := suite{newStore: newStore}
	groups := []struct {
		name string
		fn   func(*testing.T, suite)
	}{
		{"CreateTasks", testCreateTasks},
		{"ReadyTasks", testReadyTasks},
		{"FairShare", testFairShare},
		{"Leadership", testLeadership},
		{"AssignTasks", testAssignTasks},
		{"NodeLoads", testNodeLoads},
		{"Claim", testClaim},
		{"Fencing", testFencing},
		{"FailTask", testFailTask},
		{"TaskBackoff", testTaskBackoff},
		{"Delayed", testDelayed},
		{"Unique", testUnique},
		{"CancelTask", testCancelTask},
		{"RetryTask", testRetryTask},
		{"RecoverExpired", testRecoverExpired},
		{"RequeueNode", testRequeueNode},
		{"FaultToleranceOff", testFaultToleranceOff},
		{"ReleaseTask", testReleaseTask},
		{"PurgeFinished", testPurgeFinished},
		{"Bulk", testBulk},
		{"ListTasks", testListTasks},
		{"Nodes", testNodes},
		{"NodeSettings", testNodeSettings},
		{"Config", testConfig},
		{"Events", testEvents},
		{"Concurrency", testConcurrency},
		{"QueryCache", testQueryCache},
		{"Stats", testStats},
		{"Schedules", testSchedules},
		{"Workflows", testWorkflows},
		{"Limits", testLimits},
		{"Groups", testGroups},
		{"Closed", testClosed},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.fn(t, s)
		})
	}
}

// suite hands each case a fresh store.
type suite struct {
	newStore func(t *testing.T) archivist.Store
}

// run runs one case as a parallel subtest with its own store.
func (s suite) run(t *testing.T, name string, fn func(t *testing.T, h *fixture)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		st := s.newStore(t)
		if st == nil {
			t.Fatal("newStore returned nil")
		}
		fn(t, &fixture{t: t, s: st})
	})
}

// jsonValue compares JSON documents by value, so that a store may re-encode
// them (whitespace, key order) without failing a case.
var jsonValue = cmp.Transformer("jsonValue", func(r json.RawMessage) any {
	if len(r) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(r, &v); err != nil {
		return "invalid JSON: " + string(r)
	}
	return v
})

// taskOpts compare tasks as the store returns them.
var taskOpts = cmp.Options{jsonValue, cmpEmpty}

// cmpEmpty treats nil and empty slices and maps alike (JSON documents are
// left to jsonValue).
var cmpEmpty = cmp.FilterPath(func(p cmp.Path) bool {
	return p.Last().Type() != reflect.TypeFor[json.RawMessage]()
}, cmpopts.EquateEmpty())

// sameState compares a task before and after an operation that must not
// change it; a store may touch UpdatedAt when it records a rejection.
var sameState = cmp.Options{taskOpts, cmpopts.IgnoreFields(archivist.Task{}, "UpdatedAt")}

// submission is the part of a task the caller sets.
func submission(t *archivist.Task) archivist.Task {
	return archivist.Task{
		Type:       t.Type,
		Input:      t.Input,
		Priority:   t.Priority,
		Timeout:    t.Timeout,
		MaxRetries: t.MaxRetries,
		Metadata:   t.Metadata,
		// The task's own backoff, when it has one.
		RetryBackoff: t.RetryBackoff,
		MaxBackoff:   t.MaxBackoff,
		UniqueKey:    t.UniqueKey,
		UniqueFor:    t.UniqueFor,
		Schedule:     t.Schedule,
		Group:        t.Group,
		Trace:        t.Trace,
	}
}

// newTask returns a submission with the given id (empty: the store picks one).
func newTask(id, typ string, p archivist.Priority) *archivist.Task {
	return &archivist.Task{
		ID:         id,
		Type:       typ,
		Input:      json.RawMessage(`{"n":1}`),
		Priority:   p,
		Timeout:    10 * time.Second,
		MaxRetries: 3,
	}
}

// ids returns the ids of tasks in order.
func ids(tasks []*archivist.Task) []string {
	out := make([]string, 0, len(tasks))
	for _, t := range tasks {
		out = append(out, t.ID)
	}
	return out
}

// sortedIDs returns the ids of tasks sorted, for comparing sets.
func sortedIDs(tasks []*archivist.Task) []string {
	out := ids(tasks)
	slices.Sort(out)
	return out
}

// within reports whether d is within [lo-slack, hi+slack].
func within(d, lo, hi time.Duration) bool {
	return d >= lo-slack && d <= hi+slack
}

// near reports whether the store's time got lies between the test's
// readings before and after, allowing for clock skew.
func near(got, before, after time.Time) bool {
	return !got.Before(before.Add(-skew)) && !got.After(after.Add(skew))
}

// nonZero drops zero counts, so that a store may or may not list them.
func nonZero[K comparable](m map[K]int) map[K]int {
	out := map[K]int{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}
