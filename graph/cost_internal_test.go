package graph

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// dashboardOperations reads the GraphQL documents of the dashboard
// (dashboard/src/service/operations.ts: template strings that interpolate
// the field lists defined above them), by name.
func dashboardOperations(t *testing.T) map[string]string {
	t.Helper()
	src, err := os.ReadFile("../dashboard/src/service/operations.ts")
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	re := regexp.MustCompile("(?s)const ([A-Z_]+) = `([^`]*)`;")
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		text := m[2]
		for name, v := range consts {
			text = strings.ReplaceAll(text, "${"+name+"}", v)
		}
		if strings.Contains(text, "${") {
			t.Fatalf("%s: unresolved interpolation in %q", m[1], text)
		}
		consts[m[1]] = text
	}
	ops := map[string]string{}
	for name, text := range consts {
		if s := strings.TrimSpace(text); strings.HasPrefix(s, "query") || strings.HasPrefix(s, "mutation") || strings.HasPrefix(s, "subscription") {
			ops[name] = text
		}
	}
	if len(ops) < 15 {
		t.Fatalf("found %d operations in operations.ts; has its form changed?", len(ops))
	}
	return ops
}

// Every operation of the dashboard is valid and within the default limits,
// the task list at its largest page (200).
func TestDashboardOperationsWithinLimits(t *testing.T) {
	t.Parallel()
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	vars := map[string]any{"first": int64(200)}
	for name, text := range dashboardOperations(t) {
		doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: text}, DefaultMaxTokens)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		frags := map[string]*ast.FragmentDefinition{}
		c := selectionCounter{frags: frags, memo: map[string]int{}, limit: DefaultMaxSelections}
		selections := c.count(doc.Operations[0].SelectionSet)
		if errs := validator.Validate(schema, doc); len(errs) != 0 {
			t.Errorf("%s: %v", name, errs)
			continue
		}
		op := doc.Operations[0]
		depth := selectionDepth(op.SelectionSet, map[string]int{})
		cost := operationComplexity(op, vars)
		t.Logf("%s: %d selections, depth %d, complexity %d", name, selections, depth, cost)
		if selections > DefaultMaxSelections || depth > DefaultMaxDepth || cost > DefaultComplexityLimit {
			t.Errorf("%s over the default limits: %d selections, depth %d, complexity %d", name, selections, depth, cost)
		}
	}
}

// What the playground's introspection query costs, against the limits.
func TestGraphiQLIntrospectionCost(t *testing.T) {
	t.Parallel()
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	for _, name := range []string{"graphiql-introspection-true.graphql", "graphiql-introspection-false.graphql"} {
		src, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: string(src)}, DefaultMaxTokens)
		if err != nil {
			t.Fatal(err)
		}
		frags := map[string]*ast.FragmentDefinition{}
		for _, f := range doc.Fragments {
			frags[f.Name] = f
		}
		selections := selectionCounter{frags: frags, memo: map[string]int{}, limit: DefaultMaxSelections}.count(doc.Operations[0].SelectionSet)
		if errs := validator.Validate(schema, doc); len(errs) != 0 {
			t.Fatal(errs)
		}
		depth := selectionDepth(doc.Operations[0].SelectionSet, map[string]int{})
		cost := operationComplexity(doc.Operations[0], nil)
		t.Logf("%s: %d selections, depth %d, complexity %d", name, selections, depth, cost)
		if selections > DefaultMaxSelections/2 || depth > DefaultMaxDepth || cost > DefaultComplexityLimit/10 {
			t.Errorf("%s: %d selections, depth %d, complexity %d: too close to the limits", name, selections, depth, cost)
		}
	}
}

func TestComplexityCounts(t *testing.T) {
	t.Parallel()
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	for _, tc := range []struct {
		query string
		want  int
	}{
		{`{ taskTypes }`, 1},
		{`{ nodes { id name } }`, 3},
		{`{ tasks { totalCount } }`, 2},
		// edges count once per task of the page: 50 by default.
		{`{ tasks { edges { node { id } } } }`, 1 + 50*3},
		{`{ tasks(first: 2) { totalCount pageInfo { hasNextPage } edges { cursor node { id input } } } }`, 1 + 1 + 2 + 2*(1+1+1+1+10)},
		{`{ tasks(first: 2) { ...C } } fragment C on TaskConnection { edges { node { id } } }`, 1 + 2*3},
		// A page larger than the store serves counts as the largest.
		{`{ tasks(first: 100000) { edges { cursor } } }`, 1 + 500*2},
		{`{ __schema { types { name } } }`, 3},
		{`{ a: task(id: "1") { id } b: task(id: "2") { id } }`, 4},
		// A workflow's steps count 50 times what they select.
		{`{ workflow(id: "1") { id steps { key } } }`, 1 + 1 + 1 + 50*1},
		{`{ workflow(id: "1") { steps { key task { id status } } } }`, 1 + 1 + 50*(1+1+2)},
		// A page of workflows counts as a page of tasks does.
		{`{ workflows(first: 10) { totalCount edges { node { id stepCount } } } }`, 1 + 1 + 10*(1+1+2)},
		{`{ workflows { edges { node { steps { key } } } } }`, 1 + 50*(1+1+1+50)},
	} {
		doc, err := parser.ParseQuery(&ast.Source{Input: tc.query})
		if err != nil {
			t.Fatal(err)
		}
		if errs := validator.Validate(schema, doc); len(errs) != 0 {
			t.Fatalf("%s: %v", tc.query, errs)
		}
		if got := operationComplexity(doc.Operations[0], nil); got != tc.want {
			t.Errorf("%s: complexity %d, want %d", tc.query, got, tc.want)
		}
	}
}

// Once a response's budget is spent, further fields are not resolved.
func TestResponseCapStopsResolving(t *testing.T) {
	t.Parallel()
	c := responseCap{max: 100}
	resolved := 0
	big := func(context.Context) (any, error) { resolved++; return json.RawMessage(strings.Repeat("1", 60)), nil }
	var got *graphql.Response
	resp := c.InterceptResponse(context.Background(), func(ctx context.Context) *graphql.Response {
		for range 5 {
			if _, err := c.InterceptField(ctx, big); err != nil && !strings.Contains(err.Error(), "too large") {
				t.Errorf("error %v", err)
			}
		}
		got = &graphql.Response{Data: json.RawMessage(`{}`)}
		return got
	})
	if resolved != 2 {
		t.Errorf("%d fields resolved, want 2 (the second spends the budget)", resolved)
	}
	if resp == got || len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != codeResponseTooLarge {
		t.Errorf("response %+v", resp)
	}
	// Outside a response (a subscription's root field), no budget applies.
	if _, err := c.InterceptField(context.Background(), big); err != nil {
		t.Error(err)
	}
}

// A field of an operation whose client left is not resolved.
func TestClientGoneStopsResolving(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	resolved := 0
	field := func(context.Context) (any, error) { resolved++; return "x", nil }
	if _, err := (clientGone{}).InterceptField(ctx, field); err != nil || resolved != 1 {
		t.Fatalf("before: %v, %d resolved", err, resolved)
	}
	cancel()
	if _, err := (clientGone{}).InterceptField(ctx, field); err == nil || resolved != 1 {
		t.Fatalf("after the client left: %v, %d resolved", err, resolved)
	}
}
