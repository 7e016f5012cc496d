package graph_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSubscriptionOneRootField: a subscription selects exactly one root
// field (GraphQL spec, "Single root field"), aliases or not; two are refused
// in validation with GRAPHQL_VALIDATION_FAILED, not INTERNAL, and nothing
// is logged as an error.
func TestSubscriptionOneRootField(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.dial(t, protoTransportWS)
	for i, q := range []string{
		`subscription { a: taskUpdated { id } b: taskUpdated { id } }`,
		`subscription { a: taskUpdated { id } b: nodeUpdated { id } }`,
		`subscription { taskUpdated { id } ... on Subscription { b: nodeUpdated { id } } }`,
		`subscription { ...F } fragment F on Subscription { a: taskUpdated { id } b: taskUpdated { status } }`,
	} {
		id := string(rune('1' + i))
		c.subscribe(id, q, nil)
		m := c.read()
		for m.Type == "complete" && m.ID != id { // the end of the one before
			m = c.read()
		}
		var errs []gqlError
		_ = json.Unmarshal(m.Payload, &errs)
		if m.Type != "error" || m.ID != id || len(errs) == 0 || errs[0].code() != "GRAPHQL_VALIDATION_FAILED" ||
			!strings.Contains(errs[0].Message, "one root field") && !strings.Contains(errs[0].Message, "only one top level field") {
			t.Errorf("%s: got %s %s %s", q, m.Type, m.ID, m.Payload)
		}
	}
	// One aliased field is fine.
	c.subscribe("ok", `subscription { mine: taskUpdated { id } }`, nil)
	c.stop("ok")
	if l := e.logs.String(); strings.Contains(l, "level=ERROR") {
		t.Errorf("logged an error:\n%s", l)
	}
}
