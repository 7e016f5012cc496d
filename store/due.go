package store

import (
	"container/heap"
	"time"

	archivist "github.com/rpg-archivist/archivist"
)

// dueQueue holds the SCHEDULED and RETRYING tasks of the engine by the
// time they become PENDING (RunAt), earliest first, so that a placement
// round finds the due ones without looking at the others, and the leader
// learns when the next one is due (NextDue). Removal is lazy: an entry
// whose task is gone, in another status or due at another time is
// dropped when it comes up, and the heap is rebuilt when such entries
// outnumber the live ones.
type dueQueue struct {
	h dueHeap
}

type dueEntry struct {
	at time.Time
	id string
}

type dueHeap []dueEntry

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].id < h[j].id
}
func (h dueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)   { *h = append(*h, x.(dueEntry)) }
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// waitsForTime reports whether a task in status s waits in the due queue.
func waitsForTime(s archivist.TaskStatus) bool {
	return s == archivist.TaskScheduled || s == archivist.TaskRetrying
}

func (q *dueQueue) add(t *archivist.Task) { heap.Push(&q.h, dueEntry{t.RunAt, t.ID}) }

// live reports whether entry e still stands for a task of tasks.
func live(tasks map[string]*archivist.Task, e dueEntry) *archivist.Task {
	t := tasks[e.id]
	if t == nil || !waitsForTime(t.Status) || !t.RunAt.Equal(e.at) {
		return nil
	}
	return t
}

// head returns the earliest live task, dropping dead entries before it.
func (q *dueQueue) head(tasks map[string]*archivist.Task) *archivist.Task {
	for len(q.h) > 0 {
		if t := live(tasks, q.h[0]); t != nil {
			return t
		}
		heap.Pop(&q.h)
	}
	return nil
}

// pop removes the head (after head returned it).
func (q *dueQueue) pop() { heap.Pop(&q.h) }

// compact rebuilds the heap from its live entries when dead ones are more
// than the live (waiting is how many tasks wait for a time).
func (q *dueQueue) compact(tasks map[string]*archivist.Task, waiting int) {
	if len(q.h) <= 2*waiting+1024 {
		return
	}
	keep := q.h[:0]
	for _, e := range q.h {
		if live(tasks, e) != nil {
			keep = append(keep, e)
		}
	}
	clear(q.h[len(keep):])
	q.h = keep
	heap.Init(&q.h)
}
