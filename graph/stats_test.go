package graph_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
)

func TestStats(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := t.Context()
	// Two echo tasks on node-1: each waits 2s and runs 500ms; one sleep
	// task fails for good. The second echo and the sleep are campaign-7's.
	var tasks []*archivist.Task
	for i, typ := range []string{"echo", "echo", "sleep"} {
		tasks = append(tasks, &archivist.Task{Type: typ, Input: json.RawMessage(`{}`), Priority: archivist.PriorityNormal,
			Timeout: time.Minute})
		if i > 0 {
			tasks[i].Group = "campaign-7"
		}
	}
	if err := e.store.CreateTasks(ctx, tasks); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Second)
	for _, task := range tasks {
		if _, err := e.store.ClaimTask(ctx, "node-1", task.ID, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(500 * time.Millisecond)
	for _, task := range tasks[:2] {
		if _, err := e.store.CompleteTask(ctx, task.ID, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.store.FailTask(ctx, tasks[2].ID, 1, archivist.Failure{Error: "no", Permanent: true}); err != nil {
		t.Fatal(err)
	}

	var out struct {
		Stats struct {
			WindowSeconds, BucketSeconds, ResolutionSeconds int
			From, To                                        time.Time
			Total                                           struct {
				At                                       time.Time
				Submitted, Completed, Failed             int
				WaitP50Ms, WaitP95Ms, RunP50Ms, RunP95Ms float64
			}
			Series []struct {
				At                                       time.Time
				Submitted, Completed, Failed             int
				WaitP50Ms, WaitP95Ms, RunP50Ms, RunP95Ms float64
			}
			ByType []struct {
				Type              string
				Completed, Failed int
				WaitP95Ms         float64
				RunP95Ms          float64
			}
			ByNode []struct {
				NodeID                     string
				Completed, Failed          int
				BusySeconds, WorkerSeconds float64
				Utilization                float64
			}
			ByGroup []struct {
				Group                        string
				Submitted, Completed, Failed int
				WaitP95Ms, RunP95Ms          float64
			}
		}
	}
	e.must(t, `{ stats(windowSeconds: 600, bucketSeconds: 60) {
		windowSeconds bucketSeconds resolutionSeconds from to
		series { at submitted completed failed waitP50Ms waitP95Ms runP50Ms runP95Ms }
		total { at submitted completed failed waitP50Ms waitP95Ms runP50Ms runP95Ms }
		byType { type completed failed waitP95Ms runP95Ms }
		byNode { nodeId completed failed busySeconds workerSeconds utilization }
		byGroup { group submitted completed failed waitP95Ms runP95Ms } } }`, nil, &out)
	st := out.Stats
	if st.WindowSeconds != 600 || st.BucketSeconds != 60 || st.ResolutionSeconds != 10 || len(st.Series) != 10 ||
		st.To.Sub(st.From) != 10*time.Minute {
		t.Fatalf("stats shape: %+v", st)
	}
	last := st.Series[len(st.Series)-1]
	if total := st.Total; total.At != st.From || total.Submitted != last.Submitted || total.Completed != last.Completed ||
		total.Failed != last.Failed || total.RunP95Ms != last.RunP95Ms || total.WaitP50Ms != last.WaitP50Ms {
		t.Errorf("total %+v, want the last point (the only one with tasks) at %s", total, st.From)
	}
	if last.Submitted != 3 || last.Completed != 2 || last.Failed != 1 {
		t.Errorf("last point %+v, want 3 submitted, 2 completed, 1 failed", last)
	}
	near := func(got, want float64) bool { return got >= want*0.9 && got <= want*1.1 }
	if !near(last.WaitP50Ms, 2000) || !near(last.WaitP95Ms, 2000) || !near(last.RunP50Ms, 500) || !near(last.RunP95Ms, 500) {
		t.Errorf("last point latencies %+v, want wait 2000ms and run 500ms within 10%%", last)
	}
	if len(st.ByType) != 2 || st.ByType[0].Type != "echo" || st.ByType[0].Completed != 2 || st.ByType[1].Failed != 1 ||
		!near(st.ByType[0].RunP95Ms, 500) {
		t.Errorf("byType %+v, want echo (2 completed, run 500ms) then sleep (1 failed)", st.ByType)
	}
	if len(st.ByNode) != 1 || st.ByNode[0].NodeID != "node-1" || st.ByNode[0].Completed != 2 || st.ByNode[0].Failed != 1 ||
		st.ByNode[0].BusySeconds != 1.5 {
		t.Errorf("byNode %+v, want node-1 with 2 completed, 1 failed, 1.5s busy", st.ByNode)
	}
	if len(st.ByGroup) != 1 || st.ByGroup[0].Group != "campaign-7" || st.ByGroup[0].Submitted != 2 ||
		st.ByGroup[0].Completed != 1 || st.ByGroup[0].Failed != 1 || !near(st.ByGroup[0].WaitP95Ms, 2000) {
		t.Errorf("byGroup %+v, want campaign-7 with 2 submitted, 1 completed, 1 failed, waiting 2000ms", st.ByGroup)
	}

	// One group: its series and total; no types or nodes.
	var one struct {
		Stats struct {
			Total  struct{ Submitted, Completed, Failed int }
			ByType []struct{ Type string }
			ByNode []struct{ NodeID string }
		}
	}
	e.must(t, `query($g: String) { stats(windowSeconds: 600, group: $g) { total { submitted completed failed }
		byType { type } byNode { nodeId } } }`, map[string]any{"g": "campaign-7"}, &one)
	if tot := one.Stats.Total; tot.Submitted != 2 || tot.Completed != 1 || tot.Failed != 1 ||
		len(one.Stats.ByType) != 0 || len(one.Stats.ByNode) != 0 {
		t.Errorf("stats(group: campaign-7): %+v, want 2 submitted, 1 completed, 1 failed and no types or nodes", one.Stats)
	}

	// Defaults: an hour in 60 points.
	var def struct {
		Stats struct {
			WindowSeconds, BucketSeconds int
			Series                       []struct{ Completed int }
		}
	}
	e.must(t, `{ stats { windowSeconds bucketSeconds series { completed } } }`, nil, &def)
	if def.Stats.WindowSeconds != 3600 || def.Stats.BucketSeconds != 60 || len(def.Stats.Series) != 60 {
		t.Errorf("default stats: %+v", def.Stats)
	}

	for _, c := range []struct {
		args string
		want string
	}{
		{"windowSeconds: 90000", "window"},
		{"windowSeconds: 0", "window"},
		{"windowSeconds: 3600, bucketSeconds: 15", "multiple of 10"},
		{"windowSeconds: 7200, bucketSeconds: 60", "multiple of 300"},
		{"windowSeconds: 60, bucketSeconds: 120", "longer than the window"},
		{`group: "*"`, "reserved"},
		{`group: "  "`, "blank"},
	} {
		wantError(t, e.post(t, `{ stats(`+c.args+`) { windowSeconds } }`, nil), "BAD_USER_INPUT", c.want)
	}
}
