package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/store"
)

// TestClusterLimitHolds: three nodes with 8 workers in all, a limit of 2
// sleep tasks at once, 40 sleep tasks; the leader is killed with SIGKILL
// midway. Watching every task change in order (a subscription), never
// more than 2 of the tasks are ASSIGNED or IN_PROGRESS at once, 2 are at
// times, and all complete.
func TestClusterLimitHolds(t *testing.T) {
	t.Parallel() // its own node(s), store and ports: it can run beside the others (see e2e_test.go)
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	r := redistest.Start(t)
	a := startNode(t, clusterArgs(r.URL(), "a", "--role", "hybrid", "--workers", "3")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return leaderOf(t, a) == "a" }, "a leads")
	b := startNode(t, clusterArgs(r.URL(), "b", "--role", "hybrid", "--workers", "3")...)
	startNode(t, clusterArgs(r.URL(), "c", "--role", "worker", "--workers", "2")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, b)) == 3 }, "three online nodes")

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c := dialWS(t, ctx, b.addr, "graphql-transport-ws")
	defer c.conn.Close(websocket.StatusNormalClosure, "")
	c.subscribe(t, ctx, "s", `subscription { taskUpdated { id status } }`)
	c.awaitLive(t, ctx, "s", b)
	// The probe awaitLive ran (a sleep task) ends before the limit is set.
	testkit.Eventually(t, 10*time.Second, func() bool {
		var out struct{ Tasks struct{ TotalCount int } }
		b.gql(t, `{ tasks(first: 0, filter: {status: [PENDING, ASSIGNED, IN_PROGRESS]}) { totalCount } }`, nil, &out)
		return out.Tasks.TotalCount == 0
	}, "the probe task to end")

	// The limit is set through the store (the GraphQL mutation is another
	// change's), as any node would.
	st, err := store.OpenRedis(ctx, store.RedisOptions{URL: r.URL(), Cluster: "test"})
	if err != nil {
		t.Fatalf("OpenRedis: %v", err)
	}
	defer st.Close()
	l, err := archivist.NewLimit(archivist.Limit{TaskType: "sleep", MaxConcurrent: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetLimit(ctx, l); err != nil {
		t.Fatalf("SetLimit: %v", err)
	}

	const total = 40
	inputs := make([]map[string]any, total)
	for i := range inputs {
		inputs[i] = map[string]any{"type": "sleep", "input": map[string]any{"ms": 300}, "maxRetries": 3}
	}
	var sub struct{ SubmitTasks []struct{ ID string } }
	b.gql(t, `mutation($in: [SubmitTaskInput!]!) { submitTasks(inputs: $in) { id } }`, map[string]any{"in": inputs}, &sub)
	mine := map[string]bool{}
	for _, s := range sub.SubmitTasks {
		mine[s.ID] = true
	}
	if len(mine) != total {
		t.Fatalf("submitted %d tasks, want %d", len(mine), total)
	}

	running := map[string]bool{}
	done := map[string]bool{}
	most, killed := 0, false
	for len(done) < total {
		var ev struct{ TaskUpdated struct{ ID, Status string } }
		if err := json.Unmarshal(c.next(t, ctx, "s"), &ev); err != nil {
			t.Fatal(err)
		}
		id, status := ev.TaskUpdated.ID, ev.TaskUpdated.Status
		if !mine[id] {
			continue
		}
		switch status {
		case "ASSIGNED", "IN_PROGRESS":
			running[id] = true
		case "COMPLETED":
			delete(running, id)
			done[id] = true
		case "FAILED", "CANCELLED", "TIMED_OUT":
			t.Fatalf("task %s ended %s", id, status)
		default:
			delete(running, id)
		}
		if len(running) > 2 {
			t.Fatalf("%d sleep tasks running at once under a limit of 2: %v", len(running), running)
		}
		most = max(most, len(running))
		if len(done) == total/4 && !killed {
			killed = true
			a.kill()
			t.Logf("killed the leader a with %d of %d tasks completed", len(done), total)
		}
	}
	if most != 2 {
		t.Errorf("at most %d sleep tasks ran at once; the limit allows 2 and 8 workers were free", most)
	}
	ls, err := st.ListLimits(ctx)
	if err != nil || len(ls) != 1 || ls[0].Running != 0 || ls[0].Held != 0 {
		t.Errorf("the limit once every task completed: %+v, %v; want no slot in use, none held", ls, err)
	}
}
