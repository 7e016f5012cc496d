package graph_test

import (
	"strings"
	"testing"
)

// TestErrorsDoNotEchoLargeInput: an error about a value quotes at most a
// short part of it, whichever check refuses it.
func TestErrorsDoNotEchoLargeInput(t *testing.T) {
	t.Parallel()
	e := setup(t)
	big := strings.Repeat("x", 300000)
	for _, c := range []struct {
		query string
		vars  map[string]any
		code  string
	}{
		{`mutation($t: String!) { submitTask(input: {type: $t}) { id } }`, map[string]any{"t": big}, "BAD_USER_INPUT"},
		{`mutation($id: ID!) { cancelTask(id: $id) { id } }`, map[string]any{"id": big}, "NOT_FOUND"},
		{`mutation($id: ID!) { retryTask(id: $id) { id } }`, map[string]any{"id": big}, "NOT_FOUND"},
		{`query($a: String) { tasks(first: 1, after: $a) { totalCount } }`, map[string]any{"a": big}, "BAD_USER_INPUT"},
		{`query($n: Int) { tasks(first: $n) { totalCount } }`, map[string]any{"n": big}, "GRAPHQL_VALIDATION_FAILED"},
		{`mutation($p: TaskPriority) { submitTask(input: {type: "echo", priority: $p}) { id } }`, map[string]any{"p": big}, "GRAPHQL_VALIDATION_FAILED"},
		{`mutation($n: String) { updateNode(id: "n1", input: {name: $n}) { id } }`, map[string]any{"n": "\x01" + big}, ""},
		{`mutation($c: [String!]) { updateNode(id: "n1", input: {capabilities: $c}) { id } }`, map[string]any{"c": []string{"[" + big}}, ""},
	} {
		r := e.post(t, c.query, c.vars)
		if len(r.Errors) == 0 {
			t.Errorf("%s: no error", c.query)
			continue
		}
		if c.code != "" && r.Errors[0].code() != c.code {
			t.Errorf("%s: code %s, want %s (%.200s)", c.query, r.Errors[0].code(), c.code, r.Errors[0].Message)
		}
		if n := len(r.Errors[0].Message); n > 1100 {
			t.Errorf("%s: the error message is %d bytes (%.100s…)", c.query, n, r.Errors[0].Message)
		}
	}
}
