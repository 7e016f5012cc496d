package store

import (
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestReadyQueueOrder drives the ready queue with random adds (appends,
// insertions in the middle, tasks put back) and removals, past several
// chunk splits, and checks every peek against the live tasks sorted by
// rank, turn and Seq.
func TestReadyQueueOrder(t *testing.T) {
	t.Parallel()
	type entry struct {
		rank      int
		turn, seq uint64
	}
	rng := rand.New(rand.NewPCG(1, 2))
	q := newReadyQueue()
	live := map[string]entry{}
	known := map[string]entry{} // every task added once, to put back
	var seq uint64
	lastTurn := [4]uint64{}
	want := func(limit int) []string {
		ids := make([]string, 0, len(live))
		for id := range live {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool {
			a, b := live[ids[i]], live[ids[j]]
			if a.rank != b.rank {
				return a.rank > b.rank
			}
			if a.turn != b.turn {
				return a.turn < b.turn
			}
			return a.seq < b.seq
		})
		return ids[:min(limit, len(ids))]
	}
	for step := range 20000 {
		switch op := rng.IntN(10); {
		case op < 6: // a new task: mostly behind, sometimes in the middle
			seq++
			rank := rng.IntN(4)
			turn := lastTurn[rank] + 1
			if rng.IntN(3) == 0 && turn > 50 {
				turn -= uint64(rng.IntN(50))
			} else {
				lastTurn[rank] = turn
			}
			id := "t" + strconv.FormatUint(seq, 10)
			e := entry{rank, turn, seq}
			q.add(rank, turn, seq, id)
			live[id], known[id] = e, e
		case op < 9: // a removal
			for id := range live {
				q.remove(id)
				delete(live, id)
				break
			}
		default: // a task put back, with its turn and Seq
			for id, e := range known {
				if _, ok := live[id]; !ok {
					q.add(e.rank, e.turn, e.seq, id)
					live[id] = e
				}
				break
			}
		}
		if q.len() != len(live) {
			t.Fatalf("step %d: len %d, want %d", step, q.len(), len(live))
		}
		if step%97 == 0 || step > 19900 {
			limit := 1 + rng.IntN(200)
			if diff := cmp.Diff(want(limit), q.peek(limit), cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("step %d: peek(%d) (-want +got):\n%s", step, limit, diff)
			}
		}
	}
	if diff := cmp.Diff(want(len(live)), q.peek(len(live)), cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("all (-want +got):\n%s", diff)
	}
}
