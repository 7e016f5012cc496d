package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rpg-archivist/archivist"
)

func (h *fixture) settings(id string) archivist.NodeSettings {
	h.t.Helper()
	got, err := h.s.NodeSettings(h.ctx(), id)
	if err != nil {
		h.t.Fatalf("NodeSettings(%s): %v", id, err)
	}
	return got
}

func (h *fixture) setSettings(id string, s archivist.NodeSettings) *archivist.Node {
	h.t.Helper()
	got, err := h.s.SetNodeSettings(h.ctx(), id, s)
	if err != nil {
		h.t.Fatalf("SetNodeSettings(%s, %+v): %v", id, s, err)
	}
	return got
}

var settingsOpts = cmpopts.IgnoreFields(archivist.NodeSettings{}, "UpdatedAt")

func testNodeSettings(t *testing.T, s suite) {
	s.run(t, "NoneByDefault", func(t *testing.T, h *fixture) {
		if got := h.settings("nobody"); !got.IsZero() {
			t.Errorf("settings of an unknown node: %+v, want none", got)
		}
		h.heartbeat(newNode("node-a"))
		if got := h.settings("node-a"); !got.IsZero() {
			t.Errorf("settings of a node that never had any: %+v, want none", got)
		}
	})

	s.run(t, "SetMergesAndApplies", func(t *testing.T, h *fixture) {
		want := newNode("node-a")
		h.heartbeat(want.Clone())
		h.setDraining("node-a", true)
		sub := h.subscribe(0)
		got := h.setSettings("node-a", archivist.NodeSettings{Workers: 9, Role: archivist.RoleWorker})
		want.Workers, want.Role, want.Draining = 9, archivist.RoleWorker, true
		if diff := cmp.Diff(want, got, cmpEmpty); diff != "" {
			t.Errorf("SetNodeSettings returned (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, h.node("node-a"), cmpEmpty); diff != "" {
			t.Errorf("stored node (-want +got):\n%s", diff)
		}
		ev := h.await(sub, "node.updated of the settings", func(ev archivist.Event) bool {
			return ev.Type == archivist.EventNodeUpdated && ev.Node != nil && ev.Node.ID == "node-a"
		})
		if ev.Kind != archivist.EventNode || ev.Detail != archivist.NodeSettingsDetail || ev.Node.Workers != 9 ||
			ev.Node.Role != archivist.RoleWorker || !ev.Node.Draining {
			t.Errorf("event %+v (node %+v): want node.updated with detail %q and the new settings, draining kept",
				ev, ev.Node, archivist.NodeSettingsDetail)
		}

		// A second change keeps what it does not set; an empty capability
		// list is a setting (any type), apart from none.
		h.setSettings("node-a", archivist.NodeSettings{Name: "scribe", Capabilities: []string{}})
		wantS := archivist.NodeSettings{Name: "scribe", Role: archivist.RoleWorker, Workers: 9, Capabilities: []string{}}
		gotS := h.settings("node-a")
		if diff := cmp.Diff(wantS, gotS, settingsOpts); diff != "" || gotS.Capabilities == nil {
			t.Errorf("settings (-want +got):\n%s (capabilities nil: %v)", diff, gotS.Capabilities == nil)
		}
		if gotS.UpdatedAt.IsZero() {
			t.Error("settings have no UpdatedAt")
		}
		n := h.node("node-a")
		if n.Name != "scribe" || len(n.Capabilities) != 0 || n.Workers != 9 {
			t.Errorf("node %+v: want name scribe, no capabilities, 9 workers", n)
		}
		h.setSettings("node-a", archivist.NodeSettings{Capabilities: []string{"text.*"}})
		if got := h.settings("node-a").Capabilities; !cmp.Equal(got, []string{"text.*"}) {
			t.Errorf("capabilities %v, want [text.*]", got)
		}
	})

	s.run(t, "SurviveHeartbeatAndRemove", func(t *testing.T, h *fixture) {
		h.heartbeat(newNode("node-a"))
		h.setSettings("node-a", archivist.NodeSettings{Workers: 2, Name: "scribe", Capabilities: []string{"sleep"}})
		// A heartbeat described before the change does not undo it.
		n := newNode("node-a")
		got := h.heartbeat(n.Clone())
		for what, g := range map[string]*archivist.Node{"Heartbeat": got, "GetNode": h.node("node-a")} {
			if g.Workers != 2 || g.Name != "scribe" || !cmp.Equal(g.Capabilities, []string{"sleep"}) || g.ActiveTasks != n.ActiveTasks {
				t.Errorf("%s after a stale heartbeat: %+v, want the settings over the rest of the heartbeat", what, g)
			}
		}
		// A MASTER has no workers, whatever its settings say.
		h.setSettings("node-a", archivist.NodeSettings{Role: archivist.RoleMaster})
		n.Workers = 0
		h.heartbeat(n.Clone())
		if g := h.node("node-a"); g.Role != archivist.RoleMaster || g.Workers != 0 {
			t.Errorf("node made MASTER: role %s, %d workers; want MASTER with none", g.Role, g.Workers)
		}
		if err := h.s.RemoveNode(h.ctx(), "node-a"); err != nil {
			t.Fatalf("RemoveNode: %v", err)
		}
		if got := h.settings("node-a"); got.Workers != 2 {
			t.Errorf("settings after RemoveNode: %+v, want workers 2 kept for the node's return", got)
		}
	})

	s.run(t, "Refused", func(t *testing.T, h *fixture) {
		_, err := h.s.SetNodeSettings(h.ctx(), "nobody", archivist.NodeSettings{Workers: 2})
		h.wantCode(err, archivist.CodeNotFound, "SetNodeSettings of an unknown node")
		orig := newNode("node-a")
		h.heartbeat(orig.Clone())
		for _, bad := range []archivist.NodeSettings{
			{Workers: -1}, {Workers: archivist.MaxWorkers + 1}, {Role: "BOSS"},
			{Capabilities: []string{"a b"}}, {Capabilities: []string{"["}}, {Capabilities: []string{""}},
			{Name: string(make([]byte, archivist.MaxNodeNameLength+1))},
		} {
			_, err := h.s.SetNodeSettings(h.ctx(), "node-a", bad)
			h.wantCode(err, archivist.CodeBadUserInput, "SetNodeSettings with invalid settings")
		}
		if got := h.settings("node-a"); !got.IsZero() {
			t.Errorf("refused settings were stored: %+v", got)
		}
		if diff := cmp.Diff(orig, h.node("node-a"), cmpEmpty); diff != "" {
			t.Errorf("refused settings changed the node (-want +got):\n%s", diff)
		}
	})
}
