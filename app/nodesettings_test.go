package app

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/store"
)

// TestRoleChangesInProcess runs a node in this process and changes its
// role back and forth while other goroutines read what the role changes
// replace (describe, metrics, leadership), so that the race detector sees
// them; each role has the parts it needs.
func TestRoleChangesInProcess(t *testing.T) {
	t.Parallel()
	o, err := parseServe([]string{"--store", "memory", "--http", "127.0.0.1:0", "--node-id", "inproc",
		"--heartbeat-interval", "100ms", "--cpu-threshold", "0", "--memory-threshold", "0"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain(o, slog.New(slog.DiscardHandler))
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := m.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()

	readers, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for readers.Err() == nil {
				_ = m.describe()
				_ = m.isLeader()
				m.submitted(readers, m.Settings(), nil)
				m.onStored(&archivist.Node{ID: "inproc"})
				time.Sleep(time.Millisecond)
			}
		})
	}
	set := func(s archivist.NodeSettings) {
		t.Helper()
		if _, err := m.Store.SetNodeSettings(t.Context(), "inproc", s); err != nil {
			t.Fatal(err)
		}
	}
	parts := func() (pool, leading bool) {
		return m.pool() != nil, m.elector() != nil && m.scheduler() != nil
	}
	testkit.Eventually(t, 10*time.Second, m.isLeader, "the node leads")
	for _, c := range []struct {
		role          archivist.NodeRole
		pool, leading bool
	}{
		{archivist.RoleWorker, true, false},
		{archivist.RoleMaster, false, true},
		{archivist.RoleHybrid, true, true},
		{archivist.RoleMaster, false, true},
		{archivist.RoleWorker, true, false},
		{archivist.RoleHybrid, true, true},
	} {
		set(archivist.NodeSettings{Role: c.role, Workers: 2})
		testkit.Eventually(t, 10*time.Second, func() bool {
			p, l := parts()
			return m.currentRole() == c.role && p == c.pool && l == c.leading
		}, "role %s with its parts", c.role)
		if !c.leading && m.isLeader() {
			t.Fatalf("a %s leads", c.role)
		}
		if p := m.pool(); p != nil && p.Workers() != 2 {
			t.Fatalf("pool of %d workers, want 2", p.Workers())
		}
		n, err := m.Store.GetNode(t.Context(), "inproc")
		if err != nil || n.Role != c.role {
			t.Fatalf("stored node %+v %v, want role %s", n, err, c.role)
		}
	}
	// Back to running tasks before the pool retired: the same pool goes on.
	before := m.pool()
	set(archivist.NodeSettings{Role: archivist.RoleMaster})
	testkit.Eventually(t, 10*time.Second, func() bool { return m.currentRole() == archivist.RoleMaster }, "role MASTER")
	set(archivist.NodeSettings{Role: archivist.RoleHybrid})
	testkit.Eventually(t, 10*time.Second, func() bool { return m.currentRole() == archivist.RoleHybrid }, "role HYBRID")
	if p := m.pool(); p == nil || p != before {
		t.Fatalf("pool %p after MASTER and back at once, want the same %p", p, before)
	}
	testkit.Eventually(t, 10*time.Second, m.isLeader, "the node leads again")
	stop()
	wg.Wait()
}

// TestNodeSettingsAtStart: stored settings apply, flags given explicitly
// win and are returned to be recorded; bad flags are refused.
func TestNodeSettingsAtStart(t *testing.T) {
	t.Parallel()
	st := store.NewMemory(store.Options{})
	t.Cleanup(func() { _ = st.Close() })
	ctx := t.Context()
	if _, err := st.Heartbeat(ctx, &archivist.Node{ID: "n1", Role: archivist.RoleHybrid}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetNodeSettings(ctx, "n1", archivist.NodeSettings{Name: "stored", Role: archivist.RoleMaster, Workers: 8,
		Capabilities: []string{"echo"}}); err != nil {
		t.Fatal(err)
	}
	start := func(args ...string) (*Main, archivist.NodeSettings) {
		t.Helper()
		o, err := parseServe(append([]string{"--store", "memory", "--node-id", "n1"}, args...), env(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		m := NewMain(o, slog.New(slog.DiscardHandler))
		m.nodeID, m.Store = "n1", st
		rec, err := m.loadNodeSettings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return m, rec
	}
	m, rec := start()
	if m.currentRole() != archivist.RoleMaster || m.ownWorkers() != 8 || m.nodeName() != "stored" ||
		!slices.Equal(m.nodeCapabilities(), []string{"echo"}) || !rec.IsZero() {
		t.Fatalf("no flags: role %s workers %d name %s caps %v, record %+v; want the stored settings, nothing to record",
			m.currentRole(), m.ownWorkers(), m.nodeName(), m.nodeCapabilities(), rec)
	}
	m, rec = start("--workers", "3", "--capabilities=", "--role", "worker")
	if m.currentRole() != archivist.RoleWorker || m.ownWorkers() != 3 || m.nodeName() != "stored" || len(m.nodeCapabilities()) != 0 {
		t.Fatalf("flags: role %s workers %d name %s caps %v", m.currentRole(), m.ownWorkers(), m.nodeName(), m.nodeCapabilities())
	}
	if rec.Workers != 3 || rec.Role != archivist.RoleWorker || rec.Capabilities == nil || rec.Name != "" {
		t.Fatalf("to record %+v: want the flags given (an empty capability list included)", rec)
	}
	// A node that never had settings: its own workers follow the cluster.
	o, _ := parseServe([]string{"--store", "memory", "--node-id", "n2"}, env(nil), io.Discard)
	m2 := NewMain(o, slog.New(slog.DiscardHandler))
	m2.nodeID, m2.Store = "n2", st
	if _, err := m2.loadNodeSettings(ctx); err != nil || m2.ownWorkers() != 0 || m2.currentRole() != archivist.RoleHybrid || m2.nodeName() != "n2" {
		t.Fatalf("fresh node: workers %d role %s name %s %v", m2.ownWorkers(), m2.currentRole(), m2.nodeName(), err)
	}
	for _, bad := range [][]string{{"--workers", "10001"}, {"--capabilities", "a b"}, {"--capabilities", "[x"}, {"--name", "a\tb"}} {
		if _, err := parseServe(bad, env(nil), io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if w := MachineWorkers(); w < 4 || w < runtime.NumCPU() && runtime.NumCPU() <= archivist.MaxWorkers {
		t.Errorf("MachineWorkers %d with %d CPUs", w, runtime.NumCPU())
	}
}
