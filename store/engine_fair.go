package store

import "github.com/rpg-archivist/archivist"

// Fair share (see archivist.Task.Turn): start-time fair queuing per
// priority. meta.Placed[rank] is the highest Turn placed so far at that
// priority (kept in meta, so that it survives a restart); fairLast the last
// Turn given to each group at each priority (rebuilt from the tasks when a
// file is opened). A task that becomes PENDING for the first time takes
// max(placed, last of its group) + 1: a group's tasks follow one another,
// and a group with nothing queued starts where placement is now, so that it
// waits behind no other group's backlog. lua/lib.lua (fair_turn) does the
// same in Redis.

// fairKey is a group at a priority rank.
type fairKey struct {
	group string
	rank  int
}

// nextTurn gives t (becoming PENDING) its Turn, unless it has one.
func (e *engine) nextTurn(t *archivist.Task) {
	if t.Turn != 0 {
		return
	}
	rank := t.Priority.Rank()
	k := fairKey{t.Group, rank}
	t.Turn = max(e.meta.Placed[rank], e.fairLast[k]) + 1
	if e.fairLast == nil {
		e.fairLast = map[fairKey]uint64{}
	}
	e.fairLast[k] = t.Turn
}

// placed notes that t was placed (assigned, or claimed while PENDING).
func (tx *tx) placed(t *archivist.Task) {
	rank := t.Priority.Rank()
	if p := &tx.e.meta.Placed[rank]; t.Turn > *p {
		*p = t.Turn
		tx.metaChanged()
	}
}

// loadTurn notes the Turn of a task read from disk; a PENDING task stored
// before turns existed takes one now.
func (e *engine) loadTurn(t *archivist.Task) {
	if t.Turn == 0 {
		if t.Status == archivist.TaskPending {
			e.nextTurn(t)
		}
		return
	}
	k := fairKey{t.Group, t.Priority.Rank()}
	if t.Turn > e.fairLast[k] {
		if e.fairLast == nil {
			e.fairLast = map[fairKey]uint64{}
		}
		e.fairLast[k] = t.Turn
	}
}

// pruneTurns forgets the groups whose last turn is behind placement: they
// would start where placement is anyway.
func (e *engine) pruneTurns() {
	for k, last := range e.fairLast {
		if last <= e.meta.Placed[k.rank] {
			delete(e.fairLast, k)
		}
	}
}
