package graph

import (
	"context"
	"fmt"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/rpg-archivist/archivist"
)

// DefaultMaxArgumentBytes bounds the arguments of one operation once its
// variables are expanded (HandlerOptions.MaxArgumentBytes).
const DefaultMaxArgumentBytes = 8 << 20

// argumentLimit refuses an operation whose arguments, with every use of a
// variable counted at the variable's size, come to more than max bytes
// (about their size in JSON). A variable is decoded once, but each use of
// it becomes a value of its own as arguments are read (a JSON input is
// encoded anew for each task), so that one submitTasks repeating a 2 MiB
// variable a thousand times would hold 2 GB before any resolver could
// refuse it. This runs before any argument is read.
type argumentLimit struct{ max int64 }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = argumentLimit{}

func (argumentLimit) ExtensionName() string { return "ArgumentLimit" }

func (argumentLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (l argumentLimit) MutateOperationContext(_ context.Context, op *graphql.OperationContext) *gqlerror.Error {
	if op.Operation == nil {
		return nil
	}
	m := argumentMeter{vars: op.Variables, varSize: map[string]int64{}, fragSize: map[string]int64{}, max: l.max}
	if n := m.selections(op.Operation.SelectionSet); n > l.max {
		return &gqlerror.Error{
			Message: fmt.Sprintf("the arguments of this operation come to over %d bytes once its variables are expanded (each use of a variable counts); the limit is %d: send fewer tasks at once, or each input once",
				min(n, l.max+1)-1, l.max),
			Extensions: map[string]any{"code": string(archivist.CodeBadUserInput)},
		}
	}
	return nil
}

// argumentMeter adds up the sizes of arguments. Sums saturate just over
// max, so that no count overflows however the fragments multiply.
type argumentMeter struct {
	vars     map[string]any
	varSize  map[string]int64
	fragSize map[string]int64 // fragments measured once each
	max      int64
}

func (m *argumentMeter) add(a, b int64) int64 { return min(a+b, m.max+1) }

func (m *argumentMeter) selections(set ast.SelectionSet) int64 {
	var n int64
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			for _, arg := range s.Arguments {
				n = m.add(n, m.value(arg.Value))
			}
			n = m.add(n, m.selections(s.SelectionSet))
		case *ast.InlineFragment:
			n = m.add(n, m.selections(s.SelectionSet))
		case *ast.FragmentSpread:
			if s.Definition == nil {
				continue
			}
			size, ok := m.fragSize[s.Name]
			if !ok {
				m.fragSize[s.Name] = 0 // a cycle (refused by validation) counts 0
				size = m.selections(s.Definition.SelectionSet)
				m.fragSize[s.Name] = size
			}
			n = m.add(n, size)
		}
	}
	return n
}

func (m *argumentMeter) value(v *ast.Value) int64 {
	if v == nil {
		return 0
	}
	switch v.Kind {
	case ast.Variable:
		size, ok := m.varSize[v.Raw]
		if !ok {
			size = m.goValue(m.vars[v.Raw])
			m.varSize[v.Raw] = size
		}
		return size
	case ast.ListValue, ast.ObjectValue:
		n := int64(2)
		for _, c := range v.Children {
			n = m.add(n, int64(len(c.Name))+4)
			n = m.add(n, m.value(c.Value))
		}
		return n
	default:
		return int64(len(v.Raw)) + 2
	}
}

// goValue is about the size in JSON of a decoded variable.
func (m *argumentMeter) goValue(v any) int64 {
	switch v := v.(type) {
	case nil, bool:
		return 5
	case string:
		return int64(len(v)) + 2
	case []byte:
		return int64(len(v)) + 2
	case map[string]any:
		n := int64(2)
		for k, c := range v {
			n = m.add(n, int64(len(k))+4)
			n = m.add(n, m.goValue(c))
		}
		return n
	case []any:
		n := int64(2)
		for _, c := range v {
			n = m.add(n, m.goValue(c)+1)
		}
		return n
	case fmt.Stringer: // json.Number among others
		return int64(len(v.String()))
	case int64:
		return int64(len(strconv.FormatInt(v, 10)))
	default:
		return 24 // other numbers
	}
}
