package scheduler

import (
	"cmp"
	"slices"
	"sync"

	"github.com/rpg-archivist/archivist"
)

// knownQueue is the ready queue as the leader knows it from events, so
// that a placement round can place what was just submitted without reading
// the queue back: one store call (AssignTasks) instead of two
// (ReadyTasks, then AssignTasks), which at low rates, where each round
// places one task, is a fifth of what a task costs the store.
//
// A round that read the queue and placed all of it knows the queue is
// empty; the task.created events that follow say what joins it. Anything
// else that may put a task in the queue makes the knowledge void until a
// round reads the queue again: an event of a task that became PENDING
// some other way (requeued, retried, due, released, unheld), a dropped
// event feed, a change of leadership. Rounds that read the queue anyway
// (the one per heartbeat interval, those for tasks whose time came) make
// a mistake cost at most that long. The store still decides: AssignTasks
// places only tasks that are still PENDING and holds back those a limit
// or a pause holds, so a stale entry costs a skipped assignment and a read
// in the next round, never a wrong placement.
type knownQueue struct {
	mu sync.Mutex
	// valid: the queue holds tasks and nothing but them.
	valid bool
	tasks []*archivist.Task
	// gen counts invalidations: a read begun before one proves nothing.
	gen uint64
	// read are the tasks the last read returned and its round placed:
	// their task.created events may come after the read.
	read map[string]bool
}

// maxKnown bounds the tasks kept: beyond it a round reads the queue.
const maxKnown = 1024

// created adds a task that joined the queue (task.created, PENDING, not
// held back).
func (q *knownQueue) created(t *archivist.Task) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case !q.valid, q.read[t.ID]:
	case len(q.tasks) >= maxKnown:
		q.invalidateLocked()
	default:
		q.tasks = append(q.tasks, t)
	}
}

// invalidate says that the queue may hold tasks the leader does not know.
func (q *knownQueue) invalidate() {
	q.mu.Lock()
	q.invalidateLocked()
	q.mu.Unlock()
}

func (q *knownQueue) invalidateLocked() {
	q.valid, q.tasks, q.read = false, nil, nil
	q.gen++
}

// generation is what a round notes before it reads the queue.
func (q *knownQueue) generation() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.gen
}

// emptied records that a read begun at generation gen returned the whole
// queue and its round placed all of it (ids): the queue now holds only the
// tasks created since, unless something voided that meanwhile.
func (q *knownQueue) emptied(gen uint64, ids []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.gen != gen {
		return
	}
	q.valid = true
	q.read = make(map[string]bool, len(ids))
	for _, id := range ids {
		q.read[id] = true
	}
	q.tasks = slices.DeleteFunc(q.tasks, func(t *archivist.Task) bool { return q.read[t.ID] })
}

// take returns the queue in placement order, and its generation, when it
// is known (empty: nothing to place); ok is false when the round must read
// the queue. The tasks are the events' (shared: read only).
func (q *knownQueue) take() (tasks []*archivist.Task, gen uint64, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.valid {
		return nil, q.gen, false
	}
	tasks, q.tasks = q.tasks, nil
	slices.SortStableFunc(tasks, readyOrder)
	return tasks, q.gen, true
}

// putBack returns the tasks a round took and did not place (there was no
// room) to the front of the queue, unless it was voided meanwhile.
func (q *knownQueue) putBack(gen uint64, rest []*archivist.Task) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.gen != gen || !q.valid {
		return
	}
	q.tasks = append(slices.Clip(rest), q.tasks...)
}

// readyOrder is the order of the ready queue: priority, then fair-share
// turn, then submission.
func readyOrder(a, b *archivist.Task) int {
	if c := cmp.Compare(b.Priority.Rank(), a.Priority.Rank()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Turn, b.Turn); c != 0 {
		return c
	}
	return cmp.Compare(a.Seq, b.Seq)
}
