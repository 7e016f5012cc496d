package graph_test

import (
	"testing"

	"github.com/rpg-archivist/archivist"
)

// TestUpdateNode checks updateNode's answers: the node with its new
// settings, the settings kept, and clear codes for bad input.
func TestUpdateNode(t *testing.T) {
	t.Parallel()
	e := setupAuth(t)
	r := e.do(t, adminKey, `mutation { updateNode(id: "live", input: {workers: 3, role: WORKER, name: " scribe ", capabilities: ["text.*", "echo"]}) { id name role workers capabilities } }`)
	if len(r.Errors) > 0 {
		t.Fatalf("updateNode: %+v", r.Errors)
	}
	s, err := e.store.NodeSettings(t.Context(), "live")
	if err != nil || s.Workers != 3 || s.Role != archivist.RoleWorker || s.Name != "scribe" || len(s.Capabilities) != 2 {
		t.Fatalf("stored settings %+v %v", s, err)
	}
	n, _ := e.store.GetNode(t.Context(), "live")
	if n.Workers != 3 || n.Role != archivist.RoleWorker || n.Name != "scribe" {
		t.Fatalf("node %+v: the settings are not applied", n)
	}
	// Absent fields keep their value; an empty list is "any type".
	if r := e.do(t, adminKey, `mutation { updateNode(id: "live", input: {capabilities: []}) { capabilities } }`); len(r.Errors) > 0 {
		t.Fatalf("updateNode capabilities []: %+v", r.Errors)
	}
	s, _ = e.store.NodeSettings(t.Context(), "live")
	if s.Capabilities == nil || len(s.Capabilities) != 0 || s.Workers != 3 || s.Name != "scribe" {
		t.Fatalf("settings %+v (capabilities nil: %v): want capabilities [] and the rest kept", s, s.Capabilities == nil)
	}
	for _, c := range []struct{ input, code string }{
		{`{workers: 0}`, "BAD_USER_INPUT"},
		{`{workers: 10001}`, "BAD_USER_INPUT"},
		{`{name: "  "}`, "BAD_USER_INPUT"},
		{`{capabilities: ["a b"]}`, "BAD_USER_INPUT"},
		{`{capabilities: ["["]}`, "BAD_USER_INPUT"},
		{`{}`, "BAD_USER_INPUT"},
	} {
		r := e.do(t, adminKey, `mutation { updateNode(id: "live", input: `+c.input+`) { id } }`)
		if got := firstCode(r); got != c.code {
			t.Errorf("updateNode %s: code %q (%+v), want %s", c.input, got, r.Errors, c.code)
		}
	}
	if r := e.do(t, adminKey, `mutation { updateNode(id: "live", input: {role: BOSS}) { id } }`); len(r.Errors) == 0 {
		t.Error("updateNode with an unknown role: no error")
	}
	if got := firstCode(e.do(t, adminKey, `mutation { updateNode(id: "nobody", input: {workers: 2}) { id } }`)); got != "NOT_FOUND" {
		t.Errorf("updateNode of an unknown node: %q, want NOT_FOUND", got)
	}
	if s2, _ := e.store.NodeSettings(t.Context(), "live"); s2.Workers != 3 {
		t.Errorf("refused input changed the settings: %+v", s2)
	}
}
