package scheduler_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/lifecycle"
	"github.com/rpg-archivist/archivist/scheduler"
)

// TestSchedulerPlacesOnlyOnProvenNodes: with a cluster secret recorded in
// the config, only nodes whose heartbeat proves it get tasks; a node with no
// proof, one made with another secret, or one copied from another node gets
// none, and each refusal is logged once.
func TestSchedulerPlacesOnlyOnProvenNodes(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	logs := &testkit.Buffer{}
	key := archivist.DeriveAdmissionKey("the-cluster-secret-S", "test")
	other := archivist.DeriveAdmissionKey("another-secret-XYZ", "test")
	cfg := archivist.DefaultConfig()
	cfg.AdmissionKey = key.Verifier()
	b.settings.Store(&cfg)
	b.sched = scheduler.New(scheduler.Config{
		Store:    b.store,
		Settings: func() archivist.Config { return *b.settings.Load() },
		Env:      lifecycle.Env{Logger: slog.New(slog.NewTextHandler(logs, nil)), Now: b.clock.Now},
	})

	started := b.clock.Now().Add(-time.Minute)
	prove := func(k archivist.AdmissionKey, id string) func(*archivist.Node) {
		return func(n *archivist.Node) {
			n.StartedAt = started
			n.AdmissionProof = k.Prove(id, started)
		}
	}
	b.heartbeat(t, "good", prove(key, "good"))
	b.heartbeat(t, "none", nil)
	b.heartbeat(t, "wrong", prove(other, "wrong"))
	b.heartbeat(t, "copied", prove(key, "good"))          // another node's proof
	b.heartbeat(t, "restarted", func(n *archivist.Node) { // proof of an earlier run
		prove(key, "restarted")(n)
		n.StartedAt = started.Add(time.Second)
	})

	var tasks []string
	for range 12 {
		tasks = append(tasks, b.submit(t, &archivist.Task{}))
	}
	for range 3 {
		b.runOnce(t)
	}
	for _, id := range tasks {
		task := b.task(t, id)
		if task.Status == archivist.TaskAssigned && task.NodeID != "good" {
			t.Errorf("task %s was placed on %q, which does not prove the cluster secret", id, task.NodeID)
		}
	}
	if got := b.runAssigned(t, "good"); len(got) == 0 {
		t.Errorf("the proven node got no task")
	}
	out := logs.String()
	for _, id := range []string{"none", "wrong", "copied", "restarted"} {
		if n := strings.Count(out, "peer="+id+" "); n != 1 {
			t.Errorf("node %s refused %d times in the log, want once:\n%s", id, n, out)
		}
	}
	if strings.Contains(out, "peer=good ") {
		t.Errorf("the proven node was refused:\n%s", out)
	}

	// Without a recorded secret every node takes part again.
	cfg.AdmissionKey = ""
	b.settings.Store(&cfg)
	for range 24 {
		b.submit(t, &archivist.Task{})
	}
	b.runOnce(t)
	for _, id := range []string{"none", "wrong"} {
		claimed, err := b.store.ClaimTasks(b.ctx, id, 100, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(claimed) == 0 {
			t.Errorf("without a cluster secret, node %s got no task", id)
		}
	}
}
