package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// TestClusterNodeLostFaultTolerance: a long task runs on a worker that is
// killed with SIGKILL (or stopped with SIGTERM and a short shutdown grace)
// while another worker stands by. With fault tolerance off the task ends
// FAILED with an error that says why, and never starts anywhere else; with
// it on, the other worker runs it again.
func TestClusterNodeLostFaultTolerance(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	tests := []struct {
		ft      bool
		sigterm bool
		wantErr string
	}{
		{ft: false, wantErr: "node w1 was lost (stopped heartbeating) while running this task"},
		{ft: false, sigterm: true, wantErr: "node w1 shut down before attempt 1 finished"},
		{ft: true},
	}
	for _, tt := range tests {
		ft := tt.ft
		how := "SIGKILL"
		if tt.sigterm {
			how = "SIGTERM"
		}
		t.Run(fmt.Sprintf("faultTolerance %v, %s", ft, how), func(t *testing.T) {
			r := redistest.Start(t)
			m := startNode(t, clusterArgs(r.URL(), "m", "--role", "master")...)
			w1 := startNode(t, clusterArgs(r.URL(), "w1", "--role", "worker", "--shutdown-grace", "300ms")...)
			testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, m)) == 2 }, "two online nodes")
			var upd struct{ UpdateConfig struct{ FaultTolerance bool } }
			m.gql(t, `mutation($ft: Boolean) { updateConfig(input: {faultTolerance: $ft}) { faultTolerance } }`,
				map[string]any{"ft": ft}, &upd)
			if upd.UpdateConfig.FaultTolerance != ft {
				t.Fatalf("updateConfig answered faultTolerance %v, want %v", upd.UpdateConfig.FaultTolerance, ft)
			}
			waitApplied(t, m, 2)

			var sub struct{ SubmitTask struct{ ID string } }
			m.gql(t, submitMutation, map[string]any{"in": map[string]any{"type": "sleep", "input": map[string]any{"ms": 120000},
				"maxRetries": 3, "timeoutSeconds": 300}}, &sub)
			id := sub.SubmitTask.ID
			var task struct {
				Task struct {
					Status   string
					Attempts int
					NodeID   *string
					Error    *string
				}
			}
			get := func() {
				m.gql(t, `query($id: ID!) { task(id: $id) { status attempts nodeId error } }`, map[string]any{"id": id}, &task)
			}
			testkit.Eventually(t, 10*time.Second, func() bool {
				get()
				return task.Task.Status == "IN_PROGRESS"
			}, "the task to run on w1")
			if task.Task.NodeID == nil || *task.Task.NodeID != "w1" || task.Task.Attempts != 1 {
				t.Fatalf("task runs as attempt %d on %v, want attempt 1 on w1", task.Task.Attempts, task.Task.NodeID)
			}
			// A second worker that would take the task if it were put back.
			startNode(t, clusterArgs(r.URL(), "w2", "--role", "worker")...)
			testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, m)) == 3 }, "w2 online")
			if tt.sigterm {
				w1.stop(t)
			} else {
				w1.kill()
			}

			if ft {
				testkit.Eventually(t, 20*time.Second, func() bool {
					get()
					return task.Task.Status == "IN_PROGRESS" && task.Task.NodeID != nil && *task.Task.NodeID == "w2"
				}, "the task to run again on w2")
				if task.Task.Attempts != 2 {
					t.Errorf("the task runs again as attempt %d, want 2", task.Task.Attempts)
				}
				return
			}

			testkit.Eventually(t, 20*time.Second, func() bool {
				get()
				return task.Task.Status != "IN_PROGRESS" || task.Task.Attempts != 1
			}, "the task to end after w1 went")
			msg := ""
			if task.Task.Error != nil {
				msg = *task.Task.Error
			}
			if task.Task.Status != "FAILED" || task.Task.Attempts != 1 {
				t.Fatalf("after w1 went the task is %s at attempt %d (error %q), want FAILED at attempt 1", task.Task.Status, task.Task.Attempts, msg)
			}
			for _, want := range []string{tt.wantErr, "fault tolerance is off, so it was not run again"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			// w2 takes new work, yet the failed task stays failed: by the
			// time a task submitted afterwards completes on w2, the leader
			// has run maintenance rounds since.
			var echo struct{ SubmitTask struct{ ID string } }
			m.gql(t, submitMutation, map[string]any{"in": map[string]any{"type": "sleep", "input": map[string]any{"ms": 600}}}, &echo)
			var after struct{ Task struct{ Status string } }
			testkit.Eventually(t, 20*time.Second, func() bool {
				m.gql(t, `query($id: ID!) { task(id: $id) { status } }`, map[string]any{"id": echo.SubmitTask.ID}, &after)
				return after.Task.Status == "COMPLETED"
			}, "a new task to complete on w2")
			get()
			if task.Task.Status != "FAILED" || task.Task.Attempts != 1 {
				t.Errorf("later the task is %s at attempt %d, want FAILED at attempt 1 still", task.Task.Status, task.Task.Attempts)
			}
		})
	}
}

// TestRestartFaultToleranceOffBolt: with fault tolerance off, a node on the
// embedded store killed mid-task and restarted on the same file fails the
// task it had started (it may have run) and runs the one it had not started.
func TestRestartFaultToleranceOffBolt(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a real node")
	}
	args := []string{"--store", "bolt:" + filepath.Join(t.TempDir(), "ft.db"), "--node-id", "ft-node", "--workers", "1"}
	n := startNode(t, args...)
	var upd struct{ UpdateConfig struct{ FaultTolerance bool } }
	n.gql(t, `mutation { updateConfig(input: {faultTolerance: false}) { faultTolerance } }`, nil, &upd)
	submit := func(in map[string]any) string {
		var sub struct{ SubmitTask struct{ ID string } }
		n.gql(t, submitMutation, map[string]any{"in": in}, &sub)
		return sub.SubmitTask.ID
	}
	type view struct {
		Status   string
		Attempts int
		Error    *string
	}
	get := func(n *node, id string) view {
		var out struct{ Task view }
		n.gql(t, `query($id: ID!) { task(id: $id) { status attempts error } }`, map[string]any{"id": id}, &out)
		return out.Task
	}
	started := submit(map[string]any{"type": "sleep", "input": map[string]any{"ms": 120000}, "maxRetries": 3, "timeoutSeconds": 300})
	testkit.Eventually(t, 10*time.Second, func() bool { return get(n, started).Status == "IN_PROGRESS" }, "the long task to start")
	queued := submit(map[string]any{"type": "echo", "input": "queued", "maxRetries": 3})
	if st := get(n, queued).Status; st == "IN_PROGRESS" || st == "COMPLETED" {
		t.Fatalf("the second task is %s with the only worker busy", st)
	}
	n.kill()

	n2 := startNode(t, args...)
	testkit.Eventually(t, 20*time.Second, func() bool { return get(n2, queued).Status == "COMPLETED" }, "the queued task to complete after the restart")
	v := get(n2, started)
	msg := ""
	if v.Error != nil {
		msg = *v.Error
	}
	if v.Status != "FAILED" || v.Attempts != 1 {
		t.Fatalf("the task running at the kill is %s at attempt %d (error %q), want FAILED at attempt 1", v.Status, v.Attempts, msg)
	}
	for _, want := range []string{"node ft-node restarted while attempt 1 of this task ran there", "fault tolerance is off, so it was not run again"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if q := get(n2, queued); q.Attempts != 1 {
		t.Errorf("the queued task completed at attempt %d, want 1", q.Attempts)
	}
}
