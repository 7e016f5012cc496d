package graph_test

import (
	"strings"
	"testing"
)

// TestNodeIDArguments: a malformed node id is BAD_USER_INPUT (without
// echoing all of it); a well-formed unknown one is NOT_FOUND (or null for
// the node query).
func TestNodeIDArguments(t *testing.T) {
	t.Parallel()
	e := setup(t)
	long := strings.Repeat("x", 100000)
	for _, q := range []string{
		`query($id: ID!) { node(id: $id) { id } }`,
		`mutation($id: ID!) { drainNode(id: $id) { id } }`,
		`mutation($id: ID!) { resumeNode(id: $id) { id } }`,
		`mutation($id: ID!) { removeNode(id: $id) }`,
		`mutation($id: ID!) { updateNode(id: $id, input: {name: "x"}) { id } }`,
	} {
		for _, id := range []string{"a b", long, "", "a/../b"} {
			r := e.post(t, q, map[string]any{"id": id})
			wantError(t, r, "BAD_USER_INPUT", "node id")
			if len(r.Errors[0].Message) > 400 {
				t.Errorf("%s: the error is %d bytes", q, len(r.Errors[0].Message))
			}
		}
	}
	wantError(t, e.post(t, `query($id: ID) { tasks(filter: {nodeId: $id}) { totalCount } }`, map[string]any{"id": "a b"}), "BAD_USER_INPUT", "node id")
	e.must(t, `{ tasks(filter: {nodeId: "unknown-1"}) { totalCount } }`, nil, nil)
	var out struct{ Node *struct{ ID string } }
	e.must(t, `{ node(id: "unknown-1") { id } }`, nil, &out)
	if out.Node != nil {
		t.Errorf("unknown node: %+v", out.Node)
	}
	wantError(t, e.post(t, `mutation { drainNode(id: "unknown-1") { id } }`, nil), "NOT_FOUND")
}
