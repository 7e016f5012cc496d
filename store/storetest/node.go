package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rpg-archivist/archivist"
)

// newNode returns a node with every field set.
func newNode(id string) *archivist.Node {
	now := time.Now()
	return &archivist.Node{
		ID:            id,
		Name:          "name of " + id,
		Address:       "10.0.0.7:8080",
		Role:          archivist.RoleHybrid,
		Capabilities:  []string{"text.*", "echo"},
		TaskTypes:     []string{"echo", "text.upper"},
		Workers:       4,
		ActiveTasks:   1,
		Discovery:     archivist.DiscoveryRegistry,
		Version:       "v1.2.3",
		Busy:          true,
		Local:         true,
		ConfigVersion: 3,
		Health: archivist.Health{CPUPercent: 12.5, MemoryPercent: 40.25, Load1: 0.5, Load5: 0.75, Load15: 1.25,
			SampledAt: now.Add(-time.Second)},
		StartedAt:     now.Add(-time.Hour),
		LastHeartbeat: now,
		Interval:      500 * time.Millisecond,
	}
}

func (h *fixture) heartbeat(n *archivist.Node) *archivist.Node {
	h.t.Helper()
	got, err := h.s.Heartbeat(h.ctx(), n)
	if err != nil {
		h.t.Fatalf("Heartbeat(%s): %v", n.ID, err)
	}
	return got
}

func (h *fixture) node(id string) *archivist.Node {
	h.t.Helper()
	got, err := h.s.GetNode(h.ctx(), id)
	if err != nil {
		h.t.Fatalf("GetNode(%s): %v", id, err)
	}
	return got
}

func (h *fixture) setDraining(id string, draining bool) *archivist.Node {
	h.t.Helper()
	got, err := h.s.SetDraining(h.ctx(), id, draining)
	if err != nil {
		h.t.Fatalf("SetDraining(%s, %v): %v", id, draining, err)
	}
	return got
}

func testNodes(t *testing.T, s suite) {
	s.run(t, "Heartbeat", func(t *testing.T, h *fixture) {
		n := newNode("node-a")
		if diff := cmp.Diff(n, h.heartbeat(n.Clone()), cmpEmpty); diff != "" {
			t.Errorf("Heartbeat returned (-sent +returned):\n%s", diff)
		}
		if diff := cmp.Diff(n, h.node("node-a"), cmpEmpty); diff != "" {
			t.Errorf("GetNode (-sent +stored):\n%s", diff)
		}

		// A later heartbeat replaces the description.
		n.ActiveTasks, n.Busy, n.Local = 3, false, false
		n.Capabilities = []string{"*"}
		n.Health.CPUPercent = 99
		n.LastHeartbeat = n.LastHeartbeat.Add(time.Second)
		h.heartbeat(n.Clone())
		if diff := cmp.Diff(n, h.node("node-a"), cmpEmpty); diff != "" {
			t.Errorf("GetNode after a second heartbeat (-sent +stored):\n%s", diff)
		}

		// What the caller holds and what GetNode returned are copies.
		got := h.node("node-a")
		got.Capabilities[0] = "changed"
		n.TaskTypes[0] = "changed"
		if h.node("node-a").Capabilities[0] != "*" {
			t.Errorf("changing a returned node changed the stored one")
		}
	})

	s.run(t, "DrainingSurvivesHeartbeat", func(t *testing.T, h *fixture) {
		n := newNode("node-a")
		h.heartbeat(n.Clone())
		if got := h.setDraining("node-a", true); !got.Draining {
			t.Errorf("SetDraining(true) returned a node that is not draining")
		}
		if !h.node("node-a").Draining {
			t.Errorf("GetNode after SetDraining(true): not draining")
		}

		n.ActiveTasks = 7
		n.Draining = false
		got := h.heartbeat(n.Clone())
		if !got.Draining || !h.node("node-a").Draining {
			t.Errorf("a heartbeat with Draining false cleared the flag set through SetDraining")
		}
		if got.ActiveTasks != 7 {
			t.Errorf("heartbeat of a draining node not stored: ActiveTasks %d", got.ActiveTasks)
		}

		if got := h.setDraining("node-a", false); got.Draining {
			t.Errorf("SetDraining(false) returned a draining node")
		}
		n.Draining = true
		if got := h.heartbeat(n.Clone()); got.Draining {
			t.Errorf("a heartbeat with Draining true set the flag; the store's value (false) must be kept")
		}
		if h.node("node-a").Draining {
			t.Errorf("GetNode: draining after SetDraining(false) and a heartbeat")
		}
	})

	s.run(t, "ListAndRemove", func(t *testing.T, h *fixture) {
		for _, id := range []string{"node-c", "node-a", "node-b"} {
			h.heartbeat(newNode(id))
		}
		list := func() []string {
			nodes, err := h.s.ListNodes(h.ctx())
			if err != nil {
				t.Fatalf("ListNodes: %v", err)
			}
			var out []string
			for _, n := range nodes {
				out = append(out, n.ID)
			}
			return out
		}
		if diff := cmp.Diff([]string{"node-a", "node-b", "node-c"}, list()); diff != "" {
			t.Errorf("ListNodes (-want +got):\n%s", diff)
		}

		if err := h.s.RemoveNode(h.ctx(), "node-b"); err != nil {
			t.Fatalf("RemoveNode: %v", err)
		}
		_, err := h.s.GetNode(h.ctx(), "node-b")
		h.wantCode(err, archivist.CodeNotFound, "GetNode of a removed node")
		if diff := cmp.Diff([]string{"node-a", "node-c"}, list()); diff != "" {
			t.Errorf("ListNodes after removing node-b (-want +got):\n%s", diff)
		}
		err = h.s.RemoveNode(h.ctx(), "node-b")
		h.wantCode(err, archivist.CodeNotFound, "RemoveNode of a removed node")

		// A removed node that heartbeats again is back.
		h.heartbeat(newNode("node-b"))
		if diff := cmp.Diff([]string{"node-a", "node-b", "node-c"}, list()); diff != "" {
			t.Errorf("ListNodes after node-b came back (-want +got):\n%s", diff)
		}
	})

	s.run(t, "Unknown", func(t *testing.T, h *fixture) {
		nodes, err := h.s.ListNodes(h.ctx())
		if err != nil || len(nodes) != 0 {
			t.Errorf("ListNodes on a fresh store: %d nodes, %v", len(nodes), err)
		}
		_, err = h.s.GetNode(h.ctx(), "nobody")
		h.wantCode(err, archivist.CodeNotFound, "GetNode of an unknown id")
		_, err = h.s.SetDraining(h.ctx(), "nobody", true)
		h.wantCode(err, archivist.CodeNotFound, "SetDraining of an unknown id")
		if _, err := h.s.GetNode(h.ctx(), "nobody"); !archivist.IsCode(err, archivist.CodeNotFound) {
			t.Errorf("SetDraining of an unknown id created it")
		}
	})
}

func testConfig(t *testing.T, s suite) {
	config := func(h *fixture) archivist.Config {
		h.t.Helper()
		c, err := h.s.Config(h.ctx())
		if err != nil {
			h.t.Fatalf("Config: %v", err)
		}
		return c
	}

	s.run(t, "Default", func(t *testing.T, h *fixture) {
		if diff := cmp.Diff(archivist.DefaultConfig(), config(h)); diff != "" {
			t.Errorf("Config of a fresh store (-DefaultConfig +got):\n%s", diff)
		}
	})

	s.run(t, "Update", func(t *testing.T, h *fixture) {
		cfg := archivist.DefaultConfig()
		cfg.Version = 42 // the store decides the version
		cfg.Strategy = archivist.StrategyLeastBusy
		cfg.Workers = 9
		cfg.HeartbeatInterval = 2 * time.Second
		cfg.FaultTolerance = false
		cfg.Thresholds.Load1 = 1.5
		cfg.UpdatedBy = "tester"
		cfg.UpdatedAt = time.Now().Add(-time.Minute)

		got, err := h.s.UpdateConfig(h.ctx(), cfg, 0)
		if err != nil {
			t.Fatalf("UpdateConfig(prev 0): %v", err)
		}
		want := cfg
		want.Version = 1
		ignoreAt := cmpopts.IgnoreFields(archivist.Config{}, "UpdatedAt")
		if diff := cmp.Diff(want, got, ignoreAt); diff != "" {
			t.Errorf("UpdateConfig returned (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(got, config(h)); diff != "" {
			t.Errorf("Config after the update (-returned +stored):\n%s", diff)
		}

		stale := archivist.DefaultConfig()
		stale.Workers = 1
		for _, prev := range []int64{0, 2} {
			_, err := h.s.UpdateConfig(h.ctx(), stale, prev)
			h.wantCode(err, archivist.CodeConflict, "UpdateConfig with a stale version")
		}
		if diff := cmp.Diff(got, config(h)); diff != "" {
			t.Errorf("Config after refused updates (-before +after):\n%s", diff)
		}

		next, err := h.s.UpdateConfig(h.ctx(), stale, 1)
		if err != nil {
			t.Fatalf("UpdateConfig(prev 1): %v", err)
		}
		if next.Version != 2 || next.Workers != 1 {
			t.Errorf("second update: version %d, workers %d; want 2, 1", next.Version, next.Workers)
		}
	})
}
