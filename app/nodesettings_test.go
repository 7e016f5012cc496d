package app

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
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
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("not within 10s: %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	parts := func() (pool, leading bool) {
		return m.pool() != nil, m.elector() != nil && m.scheduler() != nil
	}
	waitUntil("the node leads", m.isLeader)
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
		waitUntil("role "+string(c.role)+" with its parts", func() bool {
			p, l := parts()
			return m.currentRole() == c.role && p == c.pool && l == c.leading
		})
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
	waitUntil("role MASTER", func() bool { return m.currentRole() == archivist.RoleMaster })
	set(archivist.NodeSettings{Role: archivist.RoleHybrid})
	waitUntil("role HYBRID", func() bool { return m.currentRole() == archivist.RoleHybrid })
	if p := m.pool(); p == nil || p != before {
		t.Fatalf("pool %p after MASTER and back at once, want the same %p", p, before)
	}
	waitUntil("the node leads again", m.isLeader)
	stop()
	wg.Wait()
}
