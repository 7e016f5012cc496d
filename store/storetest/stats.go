package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// binError is how far a percentile read from the latency bins may be from
// the true value (the bins are a quarter octave wide, read at their
// middle: within 9%).
const binError = 0.10

func (h *fixture) stats(window, bucket time.Duration) *archivist.Stats {
	h.t.Helper()
	st, err := h.s.Stats(h.ctx(), archivist.StatsQuery{Window: window, Bucket: bucket})
	if err != nil {
		h.t.Fatalf("Stats(%s, %s): %v", window, bucket, err)
	}
	return st
}

// sums adds up a series.
func sums(st *archivist.Stats) (submitted, completed, failed int64) {
	for _, p := range st.Series {
		submitted += p.Submitted
		completed += p.Completed
		failed += p.Failed
	}
	return
}

func typeStats(st *archivist.Stats, typ string) archivist.TypeStats {
	for _, ts := range st.ByType {
		if ts.Type == typ {
			return ts
		}
	}
	return archivist.TypeStats{Type: typ}
}

func groupStats(st *archivist.Stats, g string) archivist.GroupStats {
	for _, gs := range st.ByGroup {
		if gs.Group == g {
			return gs
		}
	}
	return archivist.GroupStats{Group: g}
}

func nodeStats(st *archivist.Stats, id string) archivist.NodeStats {
	for _, ns := range st.ByNode {
		if ns.NodeID == id {
			return ns
		}
	}
	return archivist.NodeStats{NodeID: id}
}

// nearDuration reports whether got is want within the bins' error, plus
// extra (time the store may add between two readings of its clock).
// span is the range of some durations.
type span struct{ lo, hi time.Duration }

func (s *span) add(d time.Duration) {
	if s.lo == 0 || d < s.lo {
		s.lo = d
	}
	s.hi = max(s.hi, d)
}

func (s span) String() string { return s.lo.String() + "-" + s.hi.String() }

func nearDuration(got, want, extra time.Duration) bool {
	lo := time.Duration(float64(want) * (1 - binError))
	hi := time.Duration(float64(want+extra) * (1 + binError))
	return got >= lo && got <= hi
}

// awayFromBucketEdge waits, by the test's clock, until the next 10 s bucket
// is at least room away, so that a case's operations land in one bucket.
func awayFromBucketEdge(room time.Duration) {
	res := archivist.StatsFineResolution
	if left := res - time.Duration(time.Now().UnixNano())%res; left < room {
		time.Sleep(left + 100*time.Millisecond)
	}
}

func testStats(t *testing.T, s suite) {
	s.run(t, "Empty", func(t *testing.T, h *fixture) {
		before := time.Now()
		st := h.stats(0, 0)
		if st.Window != time.Hour || st.Bucket != time.Minute || st.Resolution != archivist.StatsFineResolution {
			t.Errorf("default query: window %s bucket %s resolution %s, want 1h, 1m, 10s", st.Window, st.Bucket, st.Resolution)
		}
		if len(st.Series) != 60 {
			t.Fatalf("default query: %d points, want 60", len(st.Series))
		}
		if !st.To.After(before.Add(-skew)) || st.To.Sub(st.From) != time.Hour {
			t.Errorf("default query spans %s to %s, want one hour ending after now (%s)", st.From, st.To, before)
		}
		for i, p := range st.Series {
			if want := st.From.Add(time.Duration(i) * time.Minute); !p.At.Equal(want) {
				t.Fatalf("point %d at %s, want %s", i, p.At, want)
			}
			if p != (archivist.StatsPoint{At: p.At}) {
				t.Errorf("an empty store has point %+v", p)
			}
		}
		if len(st.ByType) != 0 || len(st.ByNode) != 0 || len(st.ByGroup) != 0 {
			t.Errorf("an empty store has types %v, nodes %v and groups %v", st.ByType, st.ByNode, st.ByGroup)
		}
	})

	s.run(t, "Arguments", func(t *testing.T, h *fixture) {
		bad := []archivist.StatsQuery{
			{Window: 25 * time.Hour},
			{Window: -time.Minute},
			{Window: 5 * time.Second},
			{Window: time.Hour, Bucket: 15 * time.Second},
			{Window: 2 * time.Hour, Bucket: time.Minute},
			{Window: time.Minute, Bucket: 2 * time.Minute},
			{Window: time.Minute, Bucket: -10 * time.Second},
			{Window: time.Minute, Group: archivist.AnyGroup},
			{Window: time.Minute, Group: strings.Repeat("g", archivist.MaxGroupBytes+1)},
			{Window: time.Minute, Group: "bad\ngroup"},
		}
		for _, q := range bad {
			_, err := h.s.Stats(h.ctx(), q)
			h.wantCode(err, archivist.CodeBadUserInput, fmt.Sprintf("Stats(window %s, bucket %s, group %.20q)", q.Window, q.Bucket, q.Group))
		}
		for _, c := range []struct {
			q          archivist.StatsQuery
			bucket     time.Duration
			points     int
			resolution time.Duration
		}{
			{archivist.StatsQuery{Window: time.Minute, Bucket: 10 * time.Second}, 10 * time.Second, 6, archivist.StatsFineResolution},
			{archivist.StatsQuery{Window: 5 * time.Minute}, 10 * time.Second, 30, archivist.StatsFineResolution},
			{archivist.StatsQuery{Window: 95 * time.Second, Bucket: 20 * time.Second}, 20 * time.Second, 5, archivist.StatsFineResolution},
			{archivist.StatsQuery{Window: 24 * time.Hour}, 25 * time.Minute, 58, archivist.StatsCoarseResolution},
			{archivist.StatsQuery{Window: 6 * time.Hour, Bucket: time.Hour}, time.Hour, 6, archivist.StatsCoarseResolution},
		} {
			st := h.stats(c.q.Window, c.q.Bucket)
			if st.Bucket != c.bucket || len(st.Series) != c.points || st.Resolution != c.resolution {
				t.Errorf("Stats(%s, %s): bucket %s, %d points, resolution %s; want %s, %d, %s",
					c.q.Window, c.q.Bucket, st.Bucket, len(st.Series), st.Resolution, c.bucket, c.points, c.resolution)
			}
			if st.To.Sub(st.From) != time.Duration(c.points)*c.bucket || st.To.Unix()%int64(c.bucket/time.Second) != 0 {
				t.Errorf("Stats(%s, %s) spans %s to %s: not whole buckets", c.q.Window, c.q.Bucket, st.From, st.To)
			}
		}
	})

	s.run(t, "Counts", func(t *testing.T, h *fixture) {
		var all []*archivist.Task
		for i := range 5 {
			all = append(all, newTask(fmt.Sprintf("a-%d", i), "alpha", archivist.PriorityNormal))
		}
		for i := range 3 {
			all = append(all, newTask(fmt.Sprintf("b-%d", i), "beta", archivist.PriorityNormal))
		}
		all = append(all, newTask("waiting", "beta", archivist.PriorityNormal))
		timeout := newTask("slow", "gamma", archivist.PriorityNormal)
		timeout.Timeout, timeout.MaxRetries = 20*time.Millisecond, 0
		all = append(all, timeout)
		h.create(all...)

		for i := range 4 {
			h.complete(h.start("node-1", fmt.Sprintf("a-%d", i)).ID, 1, `{}`)
		}
		h.start("node-1", "a-4")
		// A retried attempt is not a failure of the task; a permanent one is.
		if got := h.fail("a-4", 1, archivist.Failure{Error: "again", Retry: slowRetry}); got.Status != archivist.TaskRetrying {
			t.Fatalf("failed attempt with retries left: %s", got.Status)
		}
		for i := range 3 {
			id := fmt.Sprintf("b-%d", i)
			h.start("node-2", id)
			if i == 0 {
				h.fail(id, 1, archivist.Failure{Error: "no", Permanent: true})
			} else {
				h.complete(id, 1, `{}`)
			}
		}
		// A timeout found by the leader counts as a failure.
		started, err := h.s.ClaimTask(h.ctx(), "node-2", "slow", 0)
		if err != nil {
			t.Fatalf("ClaimTask(slow): %v", err)
		}
		time.Sleep(min(time.Until(started.LeaseUntil)+20*time.Millisecond, 2*time.Second))
		testkit.Eventually(t, waitLimit, func() bool {
			if _, err := h.s.RecoverExpired(h.ctx(), h.lead(), slowRetry); err != nil {
				t.Fatalf("RecoverExpired: %v", err)
			}
			return h.get("slow").Status == archivist.TaskTimedOut
		}, "the slow task times out")

		for _, q := range []archivist.StatsQuery{{Window: time.Minute, Bucket: 10 * time.Second}, {Window: 24 * time.Hour}} {
			st := h.stats(q.Window, q.Bucket)
			sub, done, failed := sums(st)
			if sub != 10 || done != 6 || failed != 2 {
				t.Errorf("window %s: submitted %d, completed %d, failed %d; want 10, 6, 2", q.Window, sub, done, failed)
			}
			if tot := st.Total; tot.Submitted != sub || tot.Completed != done || tot.Failed != failed || !tot.At.Equal(st.From) {
				t.Errorf("window %s: total %+v, want the sums of the series at %s", q.Window, tot, st.From)
			}
			for _, want := range []archivist.TypeStats{
				{Type: "alpha", Completed: 4}, {Type: "beta", Completed: 2, Failed: 1}, {Type: "gamma", Failed: 1},
			} {
				got := typeStats(st, want.Type)
				if got.Completed != want.Completed || got.Failed != want.Failed {
					t.Errorf("window %s: type %s completed %d failed %d; want %d, %d", q.Window, want.Type,
						got.Completed, got.Failed, want.Completed, want.Failed)
				}
			}
			if len(st.ByType) != 3 || st.ByType[0].Type != "alpha" {
				t.Errorf("window %s: types %+v, want alpha, beta, gamma, most ended first", q.Window, st.ByType)
			}
			n1, n2 := nodeStats(st, "node-1"), nodeStats(st, "node-2")
			if n1.Completed != 4 || n1.Failed != 0 || n2.Completed != 2 || n2.Failed != 2 {
				t.Errorf("window %s: node-1 %d/%d, node-2 %d/%d completed/failed; want 4/0, 2/2", q.Window,
					n1.Completed, n1.Failed, n2.Completed, n2.Failed)
			}
			if n2.BusyTime < 20*time.Millisecond {
				t.Errorf("window %s: node-2 busy %s, want at least the timed out attempt's 20ms", q.Window, n2.BusyTime)
			}
			if len(st.ByNode) != 2 || st.ByNode[0].NodeID != "node-1" {
				t.Errorf("window %s: nodes %+v, want node-1 and node-2", q.Window, st.ByNode)
			}
		}
	})

	s.run(t, "Latency", func(t *testing.T, h *fixture) {
		const wait, run = 300 * time.Millisecond, 200 * time.Millisecond
		awayFromBucketEdge(2 * time.Second)
		var specs []*archivist.Task
		for i := range 10 {
			specs = append(specs, newTask(fmt.Sprintf("t-%d", i), "lat", archivist.PriorityNormal))
		}
		quick := newTask("quick", "other", archivist.PriorityNormal)
		h.create(append(specs, quick)...)
		h.complete(h.start("node-1", "quick").ID, 1, `{}`)
		time.Sleep(wait)
		for _, sp := range specs {
			h.start("node-1", sp.ID)
		}
		time.Sleep(run)
		for _, sp := range specs {
			h.complete(sp.ID, 1, `{}`)
		}
		st := h.stats(time.Minute, 10*time.Second)
		var point archivist.StatsPoint
		for _, p := range st.Series {
			if p.Completed > 0 {
				point = p
			}
		}
		if point.Completed != 11 {
			t.Fatalf("series %+v: want one point with the 11 tasks", st.Series)
		}
		// 10 of 11 tasks waited and ran at least 300ms and 200ms: both
		// percentiles read them. The expected range is what the stored
		// tasks show (a loaded machine stretches the sleeps), widened by
		// the bins' error.
		waits, runs := span{}, span{}
		for _, sp := range specs {
			got, err := h.s.GetTask(h.ctx(), sp.ID)
			if err != nil {
				t.Fatal(err)
			}
			waits.add(got.StartedAt.Sub(got.CreatedAt))
			runs.add(got.CompletedAt.Sub(got.StartedAt))
		}
		for name, got := range map[string]time.Duration{"waitP50": point.WaitP50, "waitP95": point.WaitP95} {
			if !nearDuration(got, waits.lo, waits.hi-waits.lo+slack) {
				t.Errorf("%s = %s, want %s within the bins' error", name, got, waits)
			}
		}
		for name, got := range map[string]time.Duration{"runP50": point.RunP50, "runP95": point.RunP95} {
			if !nearDuration(got, runs.lo, runs.hi-runs.lo+slack) {
				t.Errorf("%s = %s, want %s within the bins' error", name, got, runs)
			}
		}
		lat, other := typeStats(st, "lat"), typeStats(st, "other")
		if !nearDuration(lat.WaitP95, waits.lo, waits.hi-waits.lo+slack) || !nearDuration(lat.RunP95, runs.lo, runs.hi-runs.lo+slack) {
			t.Errorf("type lat: waitP95 %s runP95 %s, want about %s and %s", lat.WaitP95, lat.RunP95, waits, runs)
		}
		// The quick task's type reads its own wait and run (next to none;
		// as stored, since a loaded machine stretches even those), not
		// the other type's.
		q, err := h.s.GetTask(h.ctx(), "quick")
		if err != nil {
			t.Fatal(err)
		}
		qwait, qrun := q.StartedAt.Sub(q.CreatedAt), q.CompletedAt.Sub(q.StartedAt)
		if !nearDuration(other.WaitP95, 0, qwait+slack) || !nearDuration(other.RunP95, 0, qrun+slack) {
			t.Errorf("type other: waitP95 %s runP95 %s, want at most its one task's wait %s and run %s (within the bins' error)",
				other.WaitP95, other.RunP95, qwait, qrun)
		}
	})

	s.run(t, "Utilization", func(t *testing.T, h *fixture) {
		const iv = time.Second
		t0 := time.Now()
		beat := func(id string, role archivist.NodeRole, at time.Time) {
			t.Helper()
			n := &archivist.Node{ID: id, Role: role, Workers: 4, Interval: iv, LastHeartbeat: at}
			if _, err := h.s.Heartbeat(h.ctx(), n); err != nil {
				t.Fatalf("Heartbeat(%s): %v", id, err)
			}
		}
		// Three heartbeats, an interval apart and then ten: the worker time
		// is 4 workers × (1s + at most one interval).
		beat("w", archivist.RoleHybrid, t0)
		beat("w", archivist.RoleHybrid, t0.Add(iv))
		beat("w", archivist.RoleHybrid, t0.Add(11*iv))
		beat("m", archivist.RoleMaster, t0)
		beat("m", archivist.RoleMaster, t0.Add(iv))
		h.create(newTask("job", "u", archivist.PriorityNormal))
		h.start("w", "job")
		time.Sleep(200 * time.Millisecond)
		h.complete("job", 1, `{}`)

		st := h.stats(2*time.Minute, time.Minute)
		w := nodeStats(st, "w")
		if w.WorkerTime != 8*time.Second {
			t.Errorf("worker time of w: %s, want 8s (4 workers × 2 intervals)", w.WorkerTime)
		}
		if w.BusyTime < 200*time.Millisecond || w.BusyTime > 200*time.Millisecond+skew {
			t.Errorf("busy time of w: %s, want the 200ms its task ran", w.BusyTime)
		}
		if want := w.BusyTime.Seconds() / w.WorkerTime.Seconds(); w.Utilization < want-0.001 || w.Utilization > want+0.001 {
			t.Errorf("utilization of w: %v, want busy over worker time %v", w.Utilization, want)
		}
		if m := nodeStats(st, "m"); m.WorkerTime != 0 || m.Utilization != 0 {
			t.Errorf("a MASTER node runs no tasks, yet has worker time %s, utilization %v", m.WorkerTime, m.Utilization)
		}
	})

	s.run(t, "Groups", func(t *testing.T, h *fixture) {
		// camp-a: 3 submitted, 2 completed, 1 failed; camp-b: 2 submitted,
		// 1 completed, 1 still pending; one task without a group.
		specs := []*archivist.Task{}
		for i, g := range []string{"camp-a", "camp-a", "camp-a", "camp-b", "camp-b", ""} {
			sp := newTask(fmt.Sprintf("t-%d", i), "typed", archivist.PriorityNormal)
			sp.Group = g
			specs = append(specs, sp)
		}
		h.create(specs...)
		h.complete(h.start("node-1", "t-0").ID, 1, `{}`)
		h.complete(h.start("node-1", "t-1").ID, 1, `{}`)
		h.start("node-2", "t-2")
		h.fail("t-2", 1, archivist.Failure{Error: "no", Permanent: true})
		h.complete(h.start("node-2", "t-3").ID, 1, `{}`)
		h.complete(h.start("node-2", "t-5").ID, 1, `{}`)

		for _, q := range []archivist.StatsQuery{{Window: time.Minute, Bucket: 10 * time.Second}, {Window: 24 * time.Hour}} {
			st := h.stats(q.Window, q.Bucket)
			if len(st.ByGroup) != 2 || st.ByGroup[0].Group != "camp-a" || st.ByGroup[1].Group != "camp-b" {
				t.Fatalf("window %s: groups %+v, want camp-a then camp-b (most ended first), and no entry for the ungrouped task", q.Window, st.ByGroup)
			}
			for _, want := range []archivist.GroupStats{
				{Group: "camp-a", Submitted: 3, Completed: 2, Failed: 1}, {Group: "camp-b", Submitted: 2, Completed: 1},
			} {
				got := groupStats(st, want.Group)
				if got.Submitted != want.Submitted || got.Completed != want.Completed || got.Failed != want.Failed {
					t.Errorf("window %s: group %s submitted/completed/failed %d/%d/%d, want %d/%d/%d", q.Window, want.Group,
						got.Submitted, got.Completed, got.Failed, want.Submitted, want.Completed, want.Failed)
				}
			}
			if sub, done, failed := sums(st); sub != 6 || done != 4 || failed != 1 {
				t.Errorf("window %s: the cluster's series sums to %d/%d/%d, want 6/4/1 (groups or not)", q.Window, sub, done, failed)
			}

			// Narrowed to one group: its series and total, no types or nodes.
			q.Group = "camp-a"
			one, err := h.s.Stats(h.ctx(), q)
			if err != nil {
				t.Fatalf("Stats(group camp-a): %v", err)
			}
			if sub, done, failed := sums(one); sub != 3 || done != 2 || failed != 1 {
				t.Errorf("window %s, group camp-a: series sums to %d/%d/%d, want 3/2/1", q.Window, sub, done, failed)
			}
			if tot := one.Total; tot.Submitted != 3 || tot.Completed != 2 || tot.Failed != 1 || tot.RunP95 <= 0 {
				t.Errorf("window %s, group camp-a: total %+v, want 3/2/1 with a run time", q.Window, tot)
			}
			if len(one.ByGroup) != 1 || one.ByGroup[0].Group != "camp-a" || len(one.ByType) != 0 || len(one.ByNode) != 0 {
				t.Errorf("window %s, group camp-a: groups %+v, types %+v, nodes %+v; want camp-a alone and no types or nodes",
					q.Window, one.ByGroup, one.ByType, one.ByNode)
			}
			q.Group = "camp-none"
			none, err := h.s.Stats(h.ctx(), q)
			if err != nil {
				t.Fatalf("Stats(group camp-none): %v", err)
			}
			if sub, done, failed := sums(none); sub != 0 || done != 0 || failed != 0 || len(none.ByGroup) != 0 {
				t.Errorf("window %s, a group with no tasks: %d/%d/%d, groups %+v; want nothing", q.Window, sub, done, failed, none.ByGroup)
			}
		}
	})

	s.run(t, "Bounds", func(t *testing.T, h *fixture) {
		const types, nodes, groups = archivist.MaxStatsTypes + 10, archivist.MaxStatsNodes + 10, archivist.MaxStatsGroups + 10
		awayFromBucketEdge(5 * time.Second)
		var specs []*archivist.Task
		for i := range max(nodes, groups) {
			sp := newTask(fmt.Sprintf("t-%d", i), fmt.Sprintf("type-%d", i%types), archivist.PriorityNormal)
			sp.Group = fmt.Sprintf("group-%03d", i%groups)
			specs = append(specs, sp)
		}
		h.create(specs...)
		for i, sp := range specs {
			h.start(fmt.Sprintf("node-%03d", i), sp.ID)
			h.complete(sp.ID, 1, `{}`)
		}
		st := h.stats(2*time.Minute, time.Minute)
		if len(st.ByType) != archivist.MaxStatsTypes+1 || len(st.ByNode) != archivist.MaxStatsNodes+1 {
			t.Errorf("%d types on %d nodes in one bucket: %d types and %d nodes listed, want %d and %d (the rest as %s)",
				types, nodes, len(st.ByType), len(st.ByNode), archivist.MaxStatsTypes+1, archivist.MaxStatsNodes+1, archivist.StatsOther)
		}
		var done int64
		for _, ts := range st.ByType {
			done += ts.Completed
		}
		if other := typeStats(st, archivist.StatsOther); other.Completed == 0 || done != int64(len(specs)) {
			t.Errorf("types: %s has %d completed, all types %d; want some and %d", archivist.StatsOther, other.Completed, done, len(specs))
		}
		done = 0
		for _, ns := range st.ByNode {
			done += ns.Completed
		}
		if other := nodeStats(st, archivist.StatsOther); other.Completed != int64(len(specs))-archivist.MaxStatsNodes || done != int64(len(specs)) {
			t.Errorf("nodes: %s has %d completed, all nodes %d; want %d and %d", archivist.StatsOther, other.Completed, done,
				len(specs)-archivist.MaxStatsNodes, len(specs))
		}
		if len(st.ByGroup) != archivist.MaxStatsGroups+1 {
			t.Errorf("%d groups in one bucket: %d listed, want %d (the rest as %s)", groups, len(st.ByGroup),
				archivist.MaxStatsGroups+1, archivist.StatsOther)
		}
		var sub int64
		done = 0
		for _, gs := range st.ByGroup {
			done += gs.Completed
			sub += gs.Submitted
		}
		if other := groupStats(st, archivist.StatsOther); other.Completed == 0 || other.Submitted == 0 ||
			done != int64(len(specs)) || sub != int64(len(specs)) {
			t.Errorf("groups: %s has %d submitted, %d completed; all groups %d, %d; want some and %d each", archivist.StatsOther,
				other.Submitted, other.Completed, sub, done, len(specs))
		}
	})
}
