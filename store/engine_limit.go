package store

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rpg-archivist/archivist"
)

// Limits and paused task types in the embedded stores.
//
// The limits and the paused types are kept in meta (so Bolt persists
// them); a change replaces the map, never modifies it, since the committer
// encodes meta outside the lock. What they count is derived from the tasks
// and rebuilt when a store is loaded:
//
//   - running counts, per counter key (Limit.Key), the ASSIGNED and
//     IN_PROGRESS tasks a limit applies to. index keeps it: a task counts
//     from when it is placed until it leaves those statuses, whatever the
//     transition, so a slot is given back exactly once. A new limit counts
//     the tasks already running (SetLimit).
//   - held holds, per counter key (or per paused type), the PENDING tasks
//     with HeldBy set, in ready order: they are out of the ready queue, so
//     ReadyTasks passes over them without reading them.
//   - buckets are the token buckets of rate limits, in memory only: after a
//     restart they start full.
type limitState struct {
	running map[string]int
	held    map[string]*heldSet
	heldIn  map[string]string // task id -> key of its held set
	buckets map[string]*bucket
	// byType lists the limits by TaskType ("" for any); nil when the
	// limits changed since it was built.
	byType map[string][]*archivist.Limit
}

// heldSet is the tasks one counter key (of limit) or one paused type
// holds back.
type heldSet struct {
	q        *readyQueue
	limit    string // "" for a paused type
	taskType string // the paused type
}

// bucket is a token bucket: tokens at time at.
type bucket struct {
	tokens float64
	at     time.Time
}

// maxHoldPerCall bounds how many tasks one ReadyTasks call holds back, so
// that a large backlog of held tasks is taken out of the ready queue over
// several rounds (each task.held event wakes the leader for the next).
const maxHoldPerCall = 1000

func pausedKey(taskType string) string { return "\x00paused\x00" + taskType }

func isRunning(s archivist.TaskStatus) bool {
	return s == archivist.TaskAssigned || s == archivist.TaskInProgress
}

// flowControl reports whether any limit or pause is set.
func (e *engine) flowControl() bool {
	return len(e.meta.Limits) > 0 || len(e.meta.Paused) > 0 || len(e.lim.held) > 0
}

// eachLimit calls fn for every limit that applies to t.
func (e *engine) eachLimit(t *archivist.Task, fn func(l *archivist.Limit) bool) {
	if len(e.meta.Limits) == 0 {
		return
	}
	if e.lim.byType == nil {
		e.lim.byType = map[string][]*archivist.Limit{}
		for _, id := range slices.Sorted(maps.Keys(e.meta.Limits)) {
			l := e.meta.Limits[id]
			e.lim.byType[l.TaskType] = append(e.lim.byType[l.TaskType], l)
		}
	}
	for _, l := range e.lim.byType[t.Type] {
		if l.Applies(t) && !fn(l) {
			return
		}
	}
	if t.Type != "" {
		for _, l := range e.lim.byType[""] {
			if l.Applies(t) && !fn(l) {
				return
			}
		}
	}
}

// countSlots adds d to the counters of every limit that applies to t.
func (e *engine) countSlots(t *archivist.Task, d int) {
	e.eachLimit(t, func(l *archivist.Limit) bool {
		if e.lim.running == nil {
			e.lim.running = map[string]int{}
		}
		k := l.Key(t)
		if n := e.lim.running[k] + d; n > 0 {
			e.lim.running[k] = n
		} else {
			delete(e.lim.running, k)
		}
		return true
	})
}

// holdKey is the key of the held set a PENDING task with HeldBy set
// belongs in, or "" when what held it is gone.
func (e *engine) holdKey(t *archivist.Task) (key, limit string) {
	if t.HeldBy == archivist.HeldPaused {
		if e.meta.Paused[t.Type] {
			return pausedKey(t.Type), ""
		}
		return "", ""
	}
	id, ok := strings.CutPrefix(t.HeldBy, "limit ")
	if l := e.meta.Limits[id]; ok && l != nil {
		return l.Key(t), id
	}
	return "", ""
}

// indexHeld puts PENDING task t in its held set and reports whether it
// did (false: t goes to the ready queue).
func (e *engine) indexHeld(t *archivist.Task) bool {
	key, limit := e.holdKey(t)
	if key == "" {
		return false
	}
	if e.lim.held == nil {
		e.lim.held, e.lim.heldIn = map[string]*heldSet{}, map[string]string{}
	}
	hs := e.lim.held[key]
	if hs == nil {
		hs = &heldSet{q: newReadyQueue(), limit: limit}
		if limit == "" {
			hs.taskType = t.Type
		}
		e.lim.held[key] = hs
	}
	hs.q.add(t.Priority.Rank(), t.Turn, t.Seq, t.ID)
	e.lim.heldIn[t.ID] = key
	return true
}

// unindexHeld takes task id out of its held set, if it is in one.
func (e *engine) unindexHeld(id string) {
	key, ok := e.lim.heldIn[id]
	if !ok {
		return
	}
	delete(e.lim.heldIn, id)
	if hs := e.lim.held[key]; hs != nil {
		hs.q.remove(id)
		if hs.q.len() == 0 {
			delete(e.lim.held, key)
		}
	}
}

// tokens is how many tokens the bucket of rate limit l under key k holds
// at now (a bucket not used yet is full).
func (e *engine) tokens(l *archivist.Limit, k string, now time.Time) float64 {
	b := e.lim.buckets[k]
	if b == nil {
		return float64(l.Burst)
	}
	return min(float64(l.Burst), b.tokens+l.RatePerSecond*max(0, now.Sub(b.at).Seconds()))
}

// takeTokens takes a token of every rate limit that applies to t.
func (e *engine) takeTokens(t *archivist.Task, now time.Time) {
	e.eachLimit(t, func(l *archivist.Limit) bool {
		if l.RatePerSecond > 0 {
			k := l.Key(t)
			n := e.tokens(l, k, now) - 1
			if e.lim.buckets == nil {
				e.lim.buckets = map[string]*bucket{}
			}
			e.lim.buckets[k] = &bucket{tokens: n, at: now}
		}
		return true
	})
}

// blocker returns what holds t back now (its HeldBy), or "" when it may
// be placed. tent counts the slots and tokens of each counter key that
// tasks chosen earlier in the same call take.
func (e *engine) blocker(t *archivist.Task, now time.Time, tent map[string]int) string {
	if e.meta.Paused[t.Type] {
		return archivist.HeldPaused
	}
	by := ""
	e.eachLimit(t, func(l *archivist.Limit) bool {
		k := l.Key(t)
		used := tent[k]
		if (l.MaxConcurrent > 0 && e.lim.running[k]+used >= l.MaxConcurrent) ||
			(l.RatePerSecond > 0 && e.tokens(l, k, now)-float64(used) < 1) {
			by = archivist.HeldByLimit(l.ID)
			return false
		}
		return true
	})
	return by
}

// tentative counts t's slots and tokens in tent.
func (e *engine) tentative(t *archivist.Task, tent map[string]int) {
	e.eachLimit(t, func(l *archivist.Limit) bool {
		tent[l.Key(t)]++
		return true
	})
}

// setHeld changes the HeldBy of PENDING task old to by, with its event.
func (tx *tx) setHeld(old *archivist.Task, by string) {
	t := old.Clone()
	t.HeldBy = by
	tx.putTask(old, t)
	if by == "" {
		tx.taskEvent(archivist.EventTaskUnheld, t, old.HeldBy)
	} else {
		tx.taskEvent(archivist.EventTaskHeld, t, by)
	}
}

// slotsFreed runs when task old, counted by the limits that apply to it,
// stopped running: the first task each of their keys holds becomes
// placeable if it fits now.
func (tx *tx) slotsFreed(old *archivist.Task) {
	e := tx.e
	e.eachLimit(old, func(l *archivist.Limit) bool {
		if hs := e.lim.held[l.Key(old)]; hs != nil {
			tx.releaseHeld(hs, nil, 1)
		}
		return true
	})
}

// releaseHeld makes up to n tasks of held set hs placeable, first first, as
// long as they fit (given tent, which it adds them to when not nil); a
// task that another limit holds back now moves to that limit's set.
// Returns how many became placeable.
func (tx *tx) releaseHeld(hs *heldSet, tent map[string]int, n int) int {
	e := tx.e
	done, moved := 0, 0
	for done < n && moved < maxHoldPerCall && hs.q.len() > 0 {
		ids := hs.q.peek(1)
		old := e.tasks[ids[0]]
		by := e.blocker(old, tx.now, tent)
		switch {
		case by == old.HeldBy:
			return done
		case by != "":
			tx.setHeld(old, by)
			moved++
		default:
			tx.setHeld(old, "")
			if tent != nil {
				e.tentative(old, tent)
			}
			done++
		}
	}
	return done
}

// releaseSome makes up to maxHoldPerCall tasks of held set hs placeable,
// whatever holds them: the tasks of a limit removed or a type resumed are
// released in bounded steps, the first at once and the others by the
// ReadyTasks calls that follow (rebalance), so that a large held backlog
// does not make one long transition.
func (tx *tx) releaseSome(hs *heldSet) int {
	ids := hs.q.peek(maxHoldPerCall)
	for _, id := range ids {
		tx.setHeld(tx.e.tasks[id], "")
	}
	return len(ids)
}

// orphan reports whether what holds the tasks of hs is gone (a limit
// removed, a type resumed).
func (e *engine) orphan(hs *heldSet) bool {
	if hs.limit == "" {
		return !e.meta.Paused[hs.taskType]
	}
	return e.meta.Limits[hs.limit] == nil
}

// rebalance makes placeable the held tasks of every limit that has room
// now (given tent), and some of those that nothing holds any more.
// Returns how many it made placeable.
func (tx *tx) rebalance(tent map[string]int) int {
	n := 0
	for _, key := range slices.Sorted(maps.Keys(tx.e.lim.held)) {
		switch hs := tx.e.lim.held[key]; {
		case hs == nil:
		case tx.e.orphan(hs):
			n += tx.releaseSome(hs)
		case hs.limit != "":
			n += tx.releaseHeld(hs, tent, maxHoldPerCall)
		}
	}
	return n
}

// readyLimited is ReadyTasks under limits or pauses: it walks the ready
// queue in order, counting the slots and tokens the tasks it takes would
// use, holds back the tasks that do not fit, and returns up to limit that
// do; then it makes placeable the held tasks of limits with room left.
func (tx *tx) readyLimited(limit int) []*archivist.Task {
	e := tx.e
	for pass := 0; ; pass++ {
		var out []*archivist.Task
		tent := map[string]int{}
		holds := 0
		for len(out) < limit && holds < maxHoldPerCall {
			ids := e.ready.peek(limit)
			if len(ids) <= len(out) {
				break
			}
			for _, id := range ids[len(out):] {
				t := e.tasks[id]
				if by := e.blocker(t, tx.now, tent); by != "" {
					tx.setHeld(t, by)
					holds++
					continue
				}
				e.tentative(t, tent)
				out = append(out, t)
			}
			if len(ids) < limit {
				break
			}
		}
		if tx.rebalance(tent) == 0 || len(out) == limit || pass > 0 {
			res := make([]*archivist.Task, len(out))
			for i, t := range out {
				res[i] = e.tasks[t.ID].Clone()
			}
			return res
		}
	}
}

// nextTokenDue is the earliest time a token comes for a rate limit that
// holds tasks back and has room for them otherwise, if any.
func (e *engine) nextTokenDue(now time.Time) (time.Duration, bool) {
	var wait time.Duration
	ok := false
	for key, hs := range e.lim.held {
		l := e.meta.Limits[hs.limit]
		if l == nil || l.RatePerSecond == 0 || (l.MaxConcurrent > 0 && e.lim.running[key] >= l.MaxConcurrent) {
			continue
		}
		w := time.Duration(0)
		if tok := e.tokens(l, key, now); tok < 1 {
			w = time.Duration((1 - tok) / l.RatePerSecond * float64(time.Second))
		}
		if !ok || w < wait {
			wait, ok = w, true
		}
	}
	return wait, ok
}

// use fills in the use of l.
func (e *engine) use(l *archivist.Limit) *archivist.Limit {
	c := l.Clone()
	if l.Group != archivist.AnyGroup {
		c.Running = e.lim.running[l.ID]
		if hs := e.lim.held[l.ID]; hs != nil {
			c.Held = hs.q.len()
		}
		return c
	}
	groups := map[string]*archivist.LimitGroupUse{}
	group := func(k string) *archivist.LimitGroupUse {
		g, ok := strings.CutPrefix(k, l.ID+"|")
		if !ok {
			return nil
		}
		u := groups[g]
		if u == nil {
			u = &archivist.LimitGroupUse{Group: g}
			groups[g] = u
		}
		return u
	}
	for k, n := range e.lim.running {
		if u := group(k); u != nil {
			u.Running += n
			c.Running += n
		}
	}
	for k, hs := range e.lim.held {
		if hs.limit != l.ID {
			continue
		}
		if u := group(k); u != nil {
			u.Held += hs.q.len()
			c.Held += hs.q.len()
		}
	}
	for _, u := range groups {
		c.Groups = append(c.Groups, *u)
	}
	sortGroupUse(c.Groups)
	return c
}

// sortGroupUse sorts the groups of a limit busiest first.
func sortGroupUse(g []archivist.LimitGroupUse) {
	slices.SortFunc(g, func(a, b archivist.LimitGroupUse) int {
		return cmp.Or(cmp.Compare(b.Running, a.Running), cmp.Compare(b.Held, a.Held), cmp.Compare(a.Group, b.Group))
	})
}

// checkLimit validates l as SetLimit takes it.
func checkLimit(l *archivist.Limit) (*archivist.Limit, error) {
	if l == nil {
		return nil, archivist.Errorf(archivist.CodeBadUserInput, "no limit given")
	}
	return archivist.NewLimit(*l, nil)
}

func (e *engine) SetLimit(ctx context.Context, in *archivist.Limit) (*archivist.Limit, error) {
	l, err := checkLimit(in)
	if err != nil {
		return nil, err
	}
	var out *archivist.Limit
	err = e.update(ctx, func(tx *tx) error {
		old := e.meta.Limits[l.ID]
		if old == nil && len(e.meta.Limits) >= archivist.MaxLimits {
			return archivist.Errorf(archivist.CodeBadUserInput, "there are %d limits already, the most a cluster may have", archivist.MaxLimits)
		}
		l.CreatedAt, l.UpdatedAt = tx.now, tx.now
		if old != nil {
			l.CreatedAt = old.CreatedAt
		}
		limits := maps.Clone(e.meta.Limits)
		if limits == nil {
			limits = map[string]*archivist.Limit{}
		}
		limits[l.ID] = l
		e.meta.Limits, e.lim.byType = limits, nil
		tx.metaChanged()
		if old == nil {
			// Count the tasks running now.
			for id := range e.leased {
				if t := e.tasks[id]; l.Applies(t) {
					if e.lim.running == nil {
						e.lim.running = map[string]int{}
					}
					e.lim.running[l.Key(t)]++
				}
			}
		}
		for k, b := range e.lim.buckets {
			if k == l.ID || strings.HasPrefix(k, l.ID+"|") {
				if l.RatePerSecond == 0 {
					delete(e.lim.buckets, k)
				} else {
					b.tokens = min(b.tokens, float64(l.Burst))
				}
			}
		}
		tent := map[string]int{}
		for _, hs := range e.heldBy(l.ID) {
			tx.releaseHeld(hs, tent, maxHoldPerCall)
		}
		out = e.use(l)
		return nil
	})
	return out, err
}

// heldBy returns the held sets of limit id.
func (e *engine) heldBy(id string) []*heldSet {
	var out []*heldSet
	for _, key := range slices.Sorted(maps.Keys(e.lim.held)) {
		if hs := e.lim.held[key]; hs.limit == id {
			out = append(out, hs)
		}
	}
	return out
}

func (e *engine) ListLimits(ctx context.Context) ([]*archivist.Limit, error) {
	var out []*archivist.Limit
	err := e.view(func() error {
		for _, id := range slices.Sorted(maps.Keys(e.meta.Limits)) {
			out = append(out, e.use(e.meta.Limits[id]))
		}
		return nil
	})
	return out, err
}

func (e *engine) DeleteLimit(ctx context.Context, id string) error {
	return e.update(ctx, func(tx *tx) error {
		if e.meta.Limits[id] == nil {
			return archivist.Errorf(archivist.CodeNotFound, "no limit %q", archivist.Clip(id))
		}
		limits := maps.Clone(e.meta.Limits)
		delete(limits, id)
		e.meta.Limits, e.lim.byType = limits, nil
		for _, hs := range e.heldBy(id) {
			tx.releaseSome(hs)
		}
		for _, m := range []map[string]int{e.lim.running} {
			for k := range m {
				if k == id || strings.HasPrefix(k, id+"|") {
					delete(m, k)
				}
			}
		}
		for k := range e.lim.buckets {
			if k == id || strings.HasPrefix(k, id+"|") {
				delete(e.lim.buckets, k)
			}
		}
		tx.metaChanged()
		return nil
	})
}

func (e *engine) PauseTaskType(ctx context.Context, taskType string, paused bool) (bool, error) {
	taskType = strings.TrimSpace(taskType)
	if taskType == "" {
		return false, archivist.Errorf(archivist.CodeBadUserInput, "name the task type to pause or resume")
	}
	changed := false
	err := e.update(ctx, func(tx *tx) error {
		if e.meta.Paused[taskType] == paused {
			return nil
		}
		changed = true
		types := maps.Clone(e.meta.Paused)
		if paused {
			if types == nil {
				types = map[string]bool{}
			}
			types[taskType] = true
			e.meta.Paused = types
			// Its ready tasks are held when ReadyTasks reaches them.
		} else {
			delete(types, taskType)
			e.meta.Paused = types
			if hs := e.lim.held[pausedKey(taskType)]; hs != nil {
				tx.releaseSome(hs)
			}
		}
		tx.metaChanged()
		return nil
	})
	return changed, err
}

func (e *engine) PausedTaskTypes(ctx context.Context) ([]string, error) {
	var out []string
	err := e.view(func() error {
		out = slices.Sorted(maps.Keys(e.meta.Paused))
		return nil
	})
	return out, err
}
