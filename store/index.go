package store

import "sort"

// readyQueue holds PENDING tasks in placement order: one queue per priority,
// each ordered by submission Seq. Removal is lazy: an entry whose id is no
// longer in live (or is there with another seq) is skipped and trimmed.
type readyQueue struct {
	byRank [4][]readyEntry
	heads  [4]int
	live   map[string]uint64
}

type readyEntry struct {
	seq uint64
	id  string
}

func newReadyQueue() *readyQueue { return &readyQueue{live: map[string]uint64{}} }

func (q *readyQueue) add(rank int, seq uint64, id string) {
	if _, ok := q.live[id]; ok {
		return
	}
	q.live[id] = seq
	list := q.byRank[rank]
	e := readyEntry{seq, id}
	if n := len(list); n == q.heads[rank] || list[n-1].seq < seq {
		q.byRank[rank] = append(list, e)
		return
	}
	// A task put back keeps its place by submission order.
	i := q.heads[rank] + sort.Search(len(list)-q.heads[rank], func(i int) bool { return list[q.heads[rank]+i].seq >= seq })
	if i < len(list) && list[i].seq == seq {
		return // its old entry is still there and alive again
	}
	list = append(list, readyEntry{})
	copy(list[i+1:], list[i:])
	list[i] = e
	q.byRank[rank] = list
}

func (q *readyQueue) remove(id string) { delete(q.live, id) }

func (q *readyQueue) len() int { return len(q.live) }

// peek returns up to limit ids in placement order.
func (q *readyQueue) peek(limit int) []string {
	var out []string
	for rank := 3; rank >= 0 && len(out) < limit; rank-- {
		list := q.byRank[rank]
		// Trim dead entries at the head so that repeated peeks stay cheap.
		h := q.heads[rank]
		for h < len(list) && !q.alive(list[h]) {
			h++
		}
		if h == len(list) {
			q.byRank[rank], h = list[:0], 0
		} else if h > 1024 && h > len(list)/2 {
			q.byRank[rank] = append(list[:0:0], list[h:]...)
			list, h = q.byRank[rank], 0
		}
		q.heads[rank] = h
		for i := h; i < len(list) && len(out) < limit; i++ {
			if q.alive(list[i]) {
				out = append(out, list[i].id)
			}
		}
	}
	return out
}

func (q *readyQueue) alive(e readyEntry) bool {
	seq, ok := q.live[e.id]
	return ok && seq == e.seq
}
