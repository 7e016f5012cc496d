package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/auth"
)

// Defaults of the HandlerOptions limits on the cost of an operation.
const (
	// DefaultMaxSelections bounds the fields an operation selects once its
	// fragments are expanded, introspection fields included. The
	// playground's introspection query selects 226; the dashboard's
	// largest query 104.
	DefaultMaxSelections = 1000
	// DefaultMaxResponseBytes bounds the JSON data of one response (16 MiB):
	// room for a page of tasks with large inputs and results.
	DefaultMaxResponseBytes = 16 << 20
)

// Codes of the errors the cost limits give.
const (
	codeComplexityLimit  = "COMPLEXITY_LIMIT_EXCEEDED"
	codeResponseTooLarge = "RESPONSE_TOO_LARGE"
)

// Page sizes of the tasks query, as taskQuery and the store apply them: the
// complexity of a page is that of its edges times the page size.
const defaultPageSize = 50

// heavyFields cost more than 1: each holds a JSON value of up to
// archivist.MaxInputBytes (a result, up to archivist.MaxResultBytes), so a
// page of 500 tasks with them weighs what it may hold.
var heavyFields = map[string]int{
	"DistributedTask.input":    10,
	"DistributedTask.result":   10,
	"DistributedTask.metadata": 10,
}

// pagedFields are the fields whose list children count once per item of the
// page their "first" argument asks for, and which child that is.
var pagedFields = map[string]string{
	"Query.tasks":     "edges",
	"Query.workflows": "edges",
}

// listFields are lists that take no "first": what they select counts as
// many times as the list is taken to hold.
var listFields = map[string]int{
	// A workflow has up to archivist.MaxWorkflowSteps steps, but most have
	// a handful to a few dozen: counting 1,000 would refuse a page of
	// workflows with their steps outright. The response cap bounds the
	// rest.
	"Workflow.steps": stepsCost,
	// taskGroups lists defaultGroups groups unless asked for more; the
	// response cap bounds a larger page.
	"Query.taskGroups": defaultGroups,
}

// stepsCost is how many steps the complexity of Workflow.steps counts.
const stepsCost = 50

// queryGuard checks an operation before gqlgen validates it, on the parsed
// document alone, so that what it refuses costs one parse (bounded by the
// token limit) and a walk of the document:
//
//   - with keys, a caller without a valid key may send only open operations
//     (session), and a key's role must allow the operation;
//   - the fields selected once fragments are expanded are counted, each
//     fragment once (memoised), and an operation over maxSelections is
//     refused. Without the memo, 27 levels of fragments that each spread the
//     one below twice select 2^27 fields: seconds of CPU for every pass
//     that expands them (gqlgen's complexity did).
//
// It runs after the persisted query lookup, which supplies the query.
type queryGuard struct {
	keys          *auth.Keyring
	maxTokens     int
	maxSelections int
	cache         graphql.Cache[*ast.QueryDocument]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = queryGuard{}

func (queryGuard) ExtensionName() string { return "QueryGuard" }

func (queryGuard) Validate(graphql.ExecutableSchema) error { return nil }

func (g queryGuard) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	if ctx.Err() != nil {
		// The client left: do nothing more for it.
		return &gqlerror.Error{Message: "the request was cancelled",
			Extensions: map[string]any{"code": string(archivist.CodeBadUserInput)}}
	}
	if params.Query == "" {
		return nil
	}
	doc, ok := g.cache.Get(ctx, params.Query)
	if !ok {
		var err error
		doc, err = parser.ParseQueryWithTokenLimit(&ast.Source{Input: params.Query}, g.maxTokens)
		if err != nil {
			return nil // gqlgen parses it again and says why it fails
		}
	}
	op := doc.Operations.ForName(params.OperationName)
	if err := g.checkRole(ctx, op); err != nil {
		return err
	}
	if op == nil || g.maxSelections <= 0 {
		return nil
	}
	frags := make(map[string]*ast.FragmentDefinition, len(doc.Fragments))
	for _, f := range doc.Fragments {
		frags[f.Name] = f
	}
	c := selectionCounter{frags: frags, memo: map[string]int{}, limit: g.maxSelections}
	if n := c.count(op.SelectionSet); n > g.maxSelections {
		return &gqlerror.Error{
			Message: fmt.Sprintf("operation selects more than %d fields once its fragments are expanded, the limit (aliases and introspection fields count too)",
				g.maxSelections),
			Extensions: map[string]any{"code": codeValidationFailed},
		}
	}
	return nil
}

// checkRole refuses, before validation, an operation that the caller's key
// (or its absence) cannot run. op is not validated yet: RequiredRole and
// openOperation read only its shape. roleCheck checks again after
// validation.
func (g queryGuard) checkRole(ctx context.Context, op *ast.OperationDefinition) *gqlerror.Error {
	if g.keys.Len() == 0 {
		return nil
	}
	p := currentPrincipal(ctx, g.keys)
	if !p.Authenticated {
		if op != nil && openOperation(op) {
			return nil
		}
		return errUnauthenticated()
	}
	if op != nil {
		if need := RequiredRole(op); p.Role < need {
			return errForbidden(need, p.Role)
		}
	}
	return nil
}

// selectionCounter counts the fields a selection set selects with its
// fragments expanded. Each fragment is counted once (memo); one that spreads
// itself, which validation refuses later, counts 0 where it recurs. Counts
// stop growing past limit, so that they cannot overflow.
type selectionCounter struct {
	frags map[string]*ast.FragmentDefinition
	memo  map[string]int
	limit int
}

func (c selectionCounter) count(set ast.SelectionSet) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n += 1 + c.count(s.SelectionSet)
		case *ast.InlineFragment:
			n += c.count(s.SelectionSet)
		case *ast.FragmentSpread:
			m, ok := c.memo[s.Name]
			if !ok {
				c.memo[s.Name] = 0
				if f := c.frags[s.Name]; f != nil {
					m = c.count(f.SelectionSet)
				}
				c.memo[s.Name] = m
			}
			n += m
		}
		if n > c.limit {
			return c.limit + 1
		}
	}
	return n
}

// complexityLimit refuses operations whose complexity is over max. A field
// counts 1 plus its children (heavyFields more); the items of a page count
// once per item the page may hold (pagedFields); introspection fields count
// like any other. Fragments are computed once each.
type complexityLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = complexityLimit{}

func (complexityLimit) ExtensionName() string { return "ComplexityLimit" }

func (complexityLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (l complexityLimit) MutateOperationContext(_ context.Context, op *graphql.OperationContext) *gqlerror.Error {
	if op.Operation == nil {
		return nil
	}
	w := costWalker{vars: op.Variables, memo: map[costKey]int{}, limit: l.max}
	if c := w.set(op.Operation.SelectionSet, page{}); c > l.max {
		return &gqlerror.Error{
			Message: fmt.Sprintf("operation has complexity over %d, the limit (a field counts 1, a page of tasks its edges times first, default %d; ask for fewer fields or a smaller page)",
				l.max, defaultPageSize),
			Extensions: map[string]any{"code": codeComplexityLimit},
		}
	}
	return nil
}

// operationComplexity is the complexity of a validated operation as the
// complexity limit counts it, up to 2^40.
func operationComplexity(op *ast.OperationDefinition, vars map[string]any) int {
	w := costWalker{vars: vars, memo: map[costKey]int{}, limit: 1 << 40}
	return w.set(op.SelectionSet, page{})
}

type costKey struct {
	fragment string
	page     page
}

// page is the page a selection set is the selection of: its items field
// counts size times. The zero page is none.
type page struct {
	size  int
	items string
}

// costWalker computes complexities.
type costWalker struct {
	vars  map[string]any
	memo  map[costKey]int
	limit int
}

func (w costWalker) set(set ast.SelectionSet, pg page) int {
	total := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			total += w.field(s, pg)
		case *ast.InlineFragment:
			total += w.set(s.SelectionSet, pg)
		case *ast.FragmentSpread:
			if s.Definition == nil {
				continue
			}
			k := costKey{s.Name, pg}
			c, ok := w.memo[k]
			if !ok {
				w.memo[k] = 0
				c = w.set(s.Definition.SelectionSet, pg)
				w.memo[k] = c
			}
			total += c
		}
		if total > w.limit {
			return w.limit + 1
		}
	}
	return total
}

func (w costWalker) field(f *ast.Field, pg page) int {
	key := f.Name
	if f.ObjectDefinition != nil {
		key = f.ObjectDefinition.Name + "." + f.Name
	}
	cost := 1
	if c, ok := heavyFields[key]; ok {
		cost = c
	}
	var childPage page
	if items, ok := pagedFields[key]; ok {
		childPage = page{size: w.pageSize(f), items: items}
	}
	c := cost + w.set(f.SelectionSet, childPage)
	if n, ok := listFields[key]; ok {
		c = min(w.limit+1, cost+n*(c-cost))
	}
	if pg.size > 0 && f.Name == pg.items {
		// The items of the page: they count once per item.
		return min(w.limit+1, c*pg.size)
	}
	return c
}

// pageSize is how many items the page f asks for may hold: its "first"
// argument, the default when absent, and at most maxPageSize (a larger one
// fails in taskQuery).
func (w costWalker) pageSize(f *ast.Field) int {
	n := defaultPageSize
	if v, ok := f.ArgumentMap(w.vars)["first"]; ok && v != nil {
		switch x := v.(type) {
		case int64:
			n = int(min(max(x, 0), maxPageSize))
		case int:
			n = min(max(x, 0), maxPageSize)
		case float64:
			n = int(min(max(x, 0), maxPageSize))
		}
	}
	return n
}

// currentPrincipal is the caller, with a WebSocket's key checked against
// the keys in force now: a key removed (or given another role) by a reload
// counts from the next operation on.
func currentPrincipal(ctx context.Context, keys *auth.Keyring) auth.Principal {
	p := auth.From(ctx)
	if p.Authenticated {
		role, ok := keys.Admits(p.KeyHash)
		p.Authenticated, p.Role = ok, role
	}
	return p
}

func errUnauthenticated() *gqlerror.Error {
	return &gqlerror.Error{Message: "missing or invalid API key: send Authorization: Bearer KEY",
		Extensions: map[string]any{"code": string(archivist.CodeUnauthenticated)}}
}

func errForbidden(need, have auth.Role) *gqlerror.Error {
	return &gqlerror.Error{Message: "this operation needs the " + need.String() + " role; the key has " + have.String(),
		Extensions: map[string]any{"code": string(archivist.CodeForbidden)}}
}

// responseCap bounds the JSON data of a response to max bytes. Each field
// adds its name and, for a string or JSON value, the value's length to a
// budget per response (no more than the bytes it writes); once the budget is
// spent, every further field fails at once without being resolved, so that
// an oversized response stops growing. The response is then, or whenever its
// data turns out over max, replaced by one RESPONSE_TOO_LARGE error before
// anything of it is written. A subscription's events count one by one.
type responseCap struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
	graphql.FieldInterceptor
} = responseCap{}

type budgetKey struct{}

// responseBudget is what a response has used so far, in bytes.
type responseBudget struct{ used atomic.Int64 }

func (responseCap) ExtensionName() string { return "ResponseCap" }

func (responseCap) Validate(graphql.ExecutableSchema) error { return nil }

func (c responseCap) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	b := &responseBudget{}
	resp := next(context.WithValue(ctx, budgetKey{}, b))
	if resp == nil {
		return nil
	}
	over := b.used.Load() > int64(c.max)
	if !over && len(resp.Data) <= c.max {
		return resp
	}
	msg := fmt.Sprintf("the response would be over %d bytes, the limit", c.max)
	if !over {
		msg = fmt.Sprintf("the response would be %d bytes, over the limit of %d", len(resp.Data), c.max)
	}
	return &graphql.Response{
		Errors: gqlerror.List{{
			Message:    msg + ": ask for fewer fields, a smaller page (first) or fewer aliases",
			Extensions: map[string]any{"code": codeResponseTooLarge},
		}},
		Extensions: resp.Extensions,
	}
}

func (c responseCap) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	b, _ := ctx.Value(budgetKey{}).(*responseBudget)
	if b == nil {
		return next(ctx)
	}
	if b.used.Load() > int64(c.max) {
		return nil, errResponseTooLarge()
	}
	res, err := next(ctx)
	n := 4 + valueBytes(res)
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Field.Field != nil {
		n += len(fc.Field.Alias)
	}
	if b.used.Add(int64(n)) > int64(c.max) {
		return nil, errResponseTooLarge()
	}
	return res, err
}

// errResponseTooLarge fails a field once the budget is spent (a new error
// each time: gqlgen adds the field's path to it). The response replaces
// these with one error.
func errResponseTooLarge() error {
	return &gqlerror.Error{Message: "response too large", Extensions: map[string]any{"code": codeResponseTooLarge}}
}

// valueBytes is at most the bytes a resolved value takes in JSON: the length
// of a string or a JSON value, 1 for anything else.
func valueBytes(v any) int {
	switch x := v.(type) {
	case json.RawMessage:
		return len(x)
	case string:
		return len(x) + 2
	case *string:
		if x != nil {
			return len(*x) + 2
		}
	case []string:
		n := 2
		for _, s := range x {
			n += len(s) + 3
		}
		return n
	}
	return 1
}

// clientGone stops resolving fields once the operation's context is done:
// the client left (an HTTP request cancelled, a WebSocket closed or its
// operation stopped), and nobody will read what is left to compute.
type clientGone struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.FieldInterceptor
} = clientGone{}

func (clientGone) ExtensionName() string { return "ClientGone" }

func (clientGone) Validate(graphql.ExecutableSchema) error { return nil }

func (clientGone) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return next(ctx)
}
