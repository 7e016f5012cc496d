package graph_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/graph"
)

// fragmentBomb is the query of issue 13: each fragment spreads the one below
// twice, so that levels fragments select 2^levels fields once expanded, in
// about 1 KB.
func fragmentBomb(levels int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "query { ...F%d }\nfragment F1 on Query { nodes { id } }\n", levels)
	for i := 2; i <= levels; i++ {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i-1, i-1)
	}
	return b.String()
}

// postWithin posts query (with key, if any) and fails the test if no answer
// comes within d: a generous deadline, so that only a query that costs
// seconds of CPU trips it (BenchmarkFragmentBomb measures the real time).
func (e *env) postWithin(t *testing.T, d time.Duration, key, query string) httpResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	body := fmt.Sprintf(`{"query": %q}`, query)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("no answer within %v: %v", d, err)
	}
	defer resp.Body.Close()
	return decodeResult(t, resp.StatusCode, resp.Header, resp.Body)
}

func TestFragmentBombRefusedAtOnce(t *testing.T) {
	t.Parallel()
	q := fragmentBomb(27)
	if len(q) > 1200 {
		t.Fatalf("the bomb is %d bytes, want about 1 KB", len(q))
	}
	const deadline = 10 * time.Second // the bomb cost 25 s of CPU before

	// Without a key, on a node that needs one: refused before validation.
	withKeys := setupLimits(t, "viewer:"+limitViewerKey, nil)
	r := withKeys.postWithin(t, deadline, "", q)
	wantError(t, r.gqlResponse, "UNAUTHENTICATED")

	// With a key, and on a node without keys: the expanded fields are
	// counted, each fragment once, and found over the limit.
	r = withKeys.postWithin(t, deadline, limitViewerKey, q)
	wantError(t, r.gqlResponse, "GRAPHQL_VALIDATION_FAILED", fmt.Sprint(graph.DefaultMaxSelections), "fragments")
	open := setupLimits(t, "", nil)
	r = open.postWithin(t, deadline, "", q)
	wantError(t, r.gqlResponse, "GRAPHQL_VALIDATION_FAILED", fmt.Sprint(graph.DefaultMaxSelections))

	// 64 levels would overflow a count that does not saturate.
	r = open.postWithin(t, deadline, "", fragmentBomb(64))
	wantError(t, r.gqlResponse, "GRAPHQL_VALIDATION_FAILED")

	// Under the limit, fragments spread many times still work.
	var out struct{ Nodes []struct{ ID string } }
	open.must(t, fragmentBomb(8), nil, &out)
}

// A request without a valid key gets UNAUTHENTICATED, and one whose key's
// role is too low FORBIDDEN, whatever else is wrong with its query: the
// role is checked first.
func TestRoleCheckedFirst(t *testing.T) {
	t.Parallel()
	e := setupLimits(t, "viewer:"+limitViewerKey, func(o *graph.HandlerOptions) { o.MaxDepth = 2 })
	deep := `{ tasks { edges { node { id } } } }`
	wantError(t, e.send(t, "", map[string]any{"query": deep}).gqlResponse, "UNAUTHENTICATED")
	wantError(t, e.send(t, "wrong-key-0000000000000", map[string]any{"query": deep}).gqlResponse, "UNAUTHENTICATED")
	wantError(t, e.send(t, "", map[string]any{"query": `{ nosuchfield }`}).gqlResponse, "UNAUTHENTICATED")
	wantError(t, e.send(t, limitViewerKey, map[string]any{"query": deep}).gqlResponse, "DEPTH_LIMIT_EXCEEDED")
	wantError(t, e.send(t, limitViewerKey, map[string]any{"query": `mutation { drainNode(id: "x") { id } }`}).gqlResponse, "FORBIDDEN")
	// The open query still needs no key.
	if r := e.send(t, "", map[string]any{"query": `{ session { authRequired } }`}); len(r.Errors) != 0 {
		t.Errorf("session without a key: %+v", r.Errors)
	}
}

// aliases repeats the selection sel under n aliases.
func aliases(n int, prefix, sel string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " %s%d: %s", prefix, i, sel)
	}
	return b.String()
}

func TestAliasAndIntrospectionBombsRefused(t *testing.T) {
	t.Parallel()
	e := setupLimits(t, "viewer:"+limitViewerKey, nil)
	// 80 x 80 aliases of the whole type list: 66 MB of response before.
	bomb := "query {" + aliases(80, "s", "__schema { ...T }") + " }\nfragment T on __Schema {" + aliases(80, "t", "types { name }") + " }"
	r := e.postWithin(t, 10*time.Second, limitViewerKey, bomb)
	wantError(t, r.gqlResponse, "GRAPHQL_VALIDATION_FAILED", "aliases")
	// Aliases of a plain list the same way.
	r = e.postWithin(t, 10*time.Second, limitViewerKey, "query {"+aliases(200, "n", "nodes { ...N }")+" }\nfragment N on ProcessingNode { id name address role status workers }")
	wantError(t, r.gqlResponse, "GRAPHQL_VALIDATION_FAILED")
	// Introspection nests within the depth limit like other fields.
	deep := "{ __schema { types { fields { type" + strings.Repeat(" { ofType", 12) + " { name }" + strings.Repeat(" }", 12) + " } } } }"
	wantError(t, e.send(t, limitViewerKey, map[string]any{"query": deep}).gqlResponse, "DEPTH_LIMIT_EXCEEDED")
	// A few aliases of introspection are fine.
	if r := e.send(t, limitViewerKey, map[string]any{"query": "{" + aliases(3, "s", "__schema { types { name } }") + " }"}); len(r.Errors) != 0 {
		t.Errorf("three aliases of __schema: %+v", r.Errors)
	}
}

// The query GraphiQL 5 (the playground) sends passes the default limits,
// with and without inputValueDeprecation.
func TestGraphiQLIntrospectionPasses(t *testing.T) {
	t.Parallel()
	e := setupLimits(t, "viewer:"+limitViewerKey, nil)
	for _, name := range []string{"graphiql-introspection-true.graphql", "graphiql-introspection-false.graphql"} {
		q, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		r := e.send(t, limitViewerKey, map[string]any{"query": string(q), "operationName": "IntrospectionQuery"})
		if len(r.Errors) != 0 || !strings.Contains(string(r.Data), `"DistributedTask"`) {
			t.Errorf("%s: %+v", name, r.Errors)
		}
	}
}

func TestTasksCountedByPageSize(t *testing.T) {
	t.Parallel()
	e := setupLimits(t, "viewer:"+limitViewerKey, nil)
	page := `tasks(first: 500) { edges { node { input result } } }`
	// One page of 500 full tasks is fine; ten of them (419 MB of response
	// before) are not, though each counted one field before.
	if r := e.send(t, limitViewerKey, map[string]any{"query": "{ " + page + " }"}); len(r.Errors) != 0 {
		t.Errorf("one page: %+v", r.Errors)
	}
	r := e.send(t, limitViewerKey, map[string]any{"query": "{" + aliases(10, "p", page) + " }"})
	wantError(t, r.gqlResponse, "COMPLEXITY_LIMIT_EXCEEDED", fmt.Sprint(graph.DefaultComplexityLimit))

	// first counts through a variable, and its default is 50.
	small := setupLimits(t, "", func(o *graph.HandlerOptions) { o.ComplexityLimit = 200 })
	const q = `query($n: Int) { tasks(first: $n) { totalCount edges { node { id } } } }`
	for n, ok := range map[any]bool{60: true, 70: false, nil: true} {
		r := small.post(t, q, map[string]any{"n": n})
		if ok && len(r.Errors) != 0 {
			t.Errorf("first %v: %+v", n, r.Errors)
		}
		if !ok {
			wantError(t, r, "COMPLEXITY_LIMIT_EXCEEDED")
		}
	}
	// Through a fragment on the connection too.
	wantError(t, small.post(t, `{ tasks(first: 100) { ...C } } fragment C on TaskConnection { edges { node { id } } }`, nil),
		"COMPLEXITY_LIMIT_EXCEEDED")
}

func TestMaxResponseBytes(t *testing.T) {
	t.Parallel()
	e := setupLimits(t, "", func(o *graph.HandlerOptions) { o.MaxResponseBytes = 4000 })
	big := strings.Repeat("x", 3000)
	for range 2 {
		e.must(t, `mutation($in: JSON) { submitTask(input: {type: "echo", input: $in}) { id } }`, map[string]any{"in": big}, nil)
	}
	r := e.post(t, `{ tasks { edges { node { id input } } } }`, nil)
	wantError(t, r, "RESPONSE_TOO_LARGE", "4000")
	if r.Data != nil && string(r.Data) != "null" {
		t.Errorf("data sent along: %.100s", r.Data)
	}
	// Under the limit, answers as before.
	e.must(t, `{ tasks { edges { node { id } } } }`, nil, nil)
}

// BenchmarkFragmentBomb measures the refusal of the 27-level fragment
// query: tens of microseconds here, 25 s of CPU before the selections were
// counted with memoisation.
func BenchmarkFragmentBomb(b *testing.B) {
	for _, keys := range []string{"", "viewer:" + limitViewerKey} {
		name := "no-keys"
		if keys != "" {
			name = "keys-no-key"
		}
		b.Run(name, func(b *testing.B) {
			e := setupLimits(b, keys, nil)
			body := fmt.Sprintf(`{"query": %q}`, fragmentBomb(27))
			b.ResetTimer()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				e.srv.Config.Handler.ServeHTTP(w, req)
				if !strings.Contains(w.Body.String(), "errors") {
					b.Fatalf("not refused: %s", w.Body)
				}
			}
		})
	}
}
