package scheduler

import (
	"sort"

	"github.com/rpg-archivist/archivist"
)

// Candidate is a node that may receive tasks, with its free worker slots.
type Candidate struct {
	Node *archivist.Node
	// Load is how many tasks the node holds (assigned or running).
	Load int
}

// Free is how many more tasks the node can take.
func (c *Candidate) Free() int { return c.Node.Workers - c.Load }

// Placer assigns tasks to candidates by a strategy. It keeps the round-robin
// position between rounds; it is not safe for concurrent use.
type Placer struct {
	next int
}

// Place returns an assignment for each task that some candidate can take,
// in task order, updating the candidates' loads as it goes. Tasks that no
// candidate can take now are left out.
func (p *Placer) Place(strategy archivist.LoadBalancingStrategy, tasks []*archivist.Task, cands []*Candidate) []archivist.Assignment {
	sort.Slice(cands, func(i, j int) bool { return cands[i].Node.ID < cands[j].Node.ID })
	var out []archivist.Assignment
	for _, t := range tasks {
		var c *Candidate
		switch strategy {
		case archivist.StrategyLeastBusy:
			c = leastBusy(t, cands, canRun)
		case archivist.StrategyCapabilityBased:
			c = bestCapability(t, cands)
		default:
			c = p.roundRobin(t, cands)
		}
		if c == nil {
			continue
		}
		c.Load++
		out = append(out, archivist.Assignment{TaskID: t.ID, NodeID: c.Node.ID})
	}
	return out
}

// canRun: the node has a free slot and a handler for the type. ROUND_ROBIN
// and LEAST_BUSY ignore capabilities.
func canRun(t *archivist.Task, c *Candidate) bool {
	if c.Free() <= 0 {
		return false
	}
	return len(c.Node.TaskTypes) == 0 || containsString(c.Node.TaskTypes, t.Type)
}

// canRunCapable also requires a matching capability when the node lists any.
func canRunCapable(t *archivist.Task, c *Candidate) bool {
	return c.Free() > 0 && c.Node.Accepts(t.Type)
}

func (p *Placer) roundRobin(t *archivist.Task, cands []*Candidate) *Candidate {
	n := len(cands)
	for i := 0; i < n; i++ {
		c := cands[(p.next+i)%n]
		if canRun(t, c) {
			p.next = (p.next + i + 1) % n
			return c
		}
	}
	return nil
}

// leastBusy picks the candidate with the lowest share of busy workers (ties:
// more free slots, then id).
func leastBusy(t *archivist.Task, cands []*Candidate, ok func(*archivist.Task, *Candidate) bool) *Candidate {
	var best *Candidate
	for _, c := range cands {
		if !ok(t, c) {
			continue
		}
		if best == nil || busier(best, c) {
			best = c
		}
	}
	return best
}

// busier reports whether a is busier than b.
func busier(a, b *Candidate) bool {
	// Compare a.Load/a.Workers with b.Load/b.Workers without division.
	l, r := a.Load*b.Node.Workers, b.Load*a.Node.Workers
	if l != r {
		return l > r
	}
	return a.Free() < b.Free()
}

// bestCapability sends a type only to nodes whose capabilities match,
// preferring the most specific match (exact type, then a pattern, then a
// node that lists no capabilities) and, among equals, the least busy.
func bestCapability(t *archivist.Task, cands []*Candidate) *Candidate {
	var best *Candidate
	bestScore := -1
	for _, c := range cands {
		if !canRunCapable(t, c) {
			continue
		}
		s := specificity(c.Node.Capabilities, t.Type)
		if s > bestScore || (s == bestScore && busier(best, c)) {
			best, bestScore = c, s
		}
	}
	return best
}

func specificity(caps []string, typ string) int {
	if len(caps) == 0 {
		return 0
	}
	best := 0
	for _, c := range caps {
		switch {
		case c == typ:
			return 3
		case c == "*":
			best = max(best, 1)
		case archivist.CapabilityMatches(c, typ):
			best = max(best, 2)
		}
	}
	return best
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
