package store

import "sort"

// readyQueue holds PENDING tasks in placement order: one queue per priority,
// each ordered by (Turn, Seq) (see archivist.Task.Turn). Removal is lazy: an
// entry whose id is no longer in live (or is there with another seq) is
// skipped, and dropped when a peek walks over it.
//
// A queue is a list of sorted chunks of at most readyChunk entries, so that
// a task placed in the middle (a group's turn comes before another group's
// backlog; a task put back keeps its turn) costs a binary search and a copy
// within one chunk, not within the whole queue.
type readyQueue struct {
	byRank [4][][]queued
	live   map[string]uint64
}

// queued is a ready queue entry.
type queued struct {
	turn, seq uint64
	id        string
}

func (a queued) less(b queued) bool {
	if a.turn != b.turn {
		return a.turn < b.turn
	}
	return a.seq < b.seq
}

// readyChunk is the most entries a chunk holds before it splits.
const readyChunk = 512

// readyEntry is a task id with its Seq (engine.order).
type readyEntry struct {
	seq uint64
	id  string
}

func newReadyQueue() *readyQueue { return &readyQueue{live: map[string]uint64{}} }

func (q *readyQueue) add(rank int, turn, seq uint64, id string) {
	if _, ok := q.live[id]; ok {
		return
	}
	q.live[id] = seq
	e := queued{turn, seq, id}
	chunks := q.byRank[rank]
	if n := len(chunks); n == 0 || chunks[n-1][len(chunks[n-1])-1].less(e) {
		// The common case: behind every entry.
		if n == 0 || len(chunks[n-1]) >= readyChunk {
			c := make([]queued, 1, 16)
			c[0] = e
			q.byRank[rank] = append(chunks, c)
			return
		}
		chunks[n-1] = append(chunks[n-1], e)
		return
	}
	// The first chunk whose last entry is not before e takes it.
	k := sort.Search(len(chunks), func(i int) bool { return !chunks[i][len(chunks[i])-1].less(e) })
	c := chunks[k]
	i := sort.Search(len(c), func(i int) bool { return !c[i].less(e) })
	if c[i] == e {
		return // its old entry is still there and alive again
	}
	c = append(c, queued{})
	copy(c[i+1:], c[i:])
	c[i] = e
	if len(c) <= readyChunk {
		chunks[k] = c
		return
	}
	half := len(c) / 2
	right := append(make([]queued, 0, readyChunk), c[half:]...)
	chunks[k] = c[:half:half]
	chunks = append(chunks, nil)
	copy(chunks[k+2:], chunks[k+1:])
	chunks[k+1] = right
	q.byRank[rank] = chunks
}

func (q *readyQueue) remove(id string) { delete(q.live, id) }

func (q *readyQueue) len() int { return len(q.live) }

// peek returns up to limit ids in placement order. The chunks it walks
// through lose their dead entries, so that repeated peeks stay cheap.
func (q *readyQueue) peek(limit int) []string {
	var out []string
	for rank := 3; rank >= 0 && len(out) < limit; rank-- {
		chunks := q.byRank[rank]
		k := 0
		for k < len(chunks) && len(out) < limit {
			c := chunks[k]
			w, j := 0, 0
			for ; j < len(c) && len(out) < limit; j++ {
				if e := c[j]; q.alive(e) {
					c[w] = e
					w++
					out = append(out, e.id)
				}
			}
			if w < j {
				n := copy(c[w:], c[j:])
				clear(c[w+n:]) // let go of the ids removed
				c = c[:w+n]
			}
			if len(c) == 0 {
				chunks = append(chunks[:k], chunks[k+1:]...)
				continue
			}
			chunks[k] = c
			k++
		}
		q.byRank[rank] = chunks
	}
	return out
}

func (q *readyQueue) alive(e queued) bool {
	seq, ok := q.live[e.id]
	return ok && seq == e.seq
}
