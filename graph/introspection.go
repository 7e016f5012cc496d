package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// noIntrospection refuses operations that ask for __schema or __type when
// introspection is off, as a validation error (gqlgen would otherwise fail
// the field with an error that has no code).
type noIntrospection struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = noIntrospection{}

func (noIntrospection) ExtensionName() string { return "NoIntrospection" }

func (noIntrospection) Validate(graphql.ExecutableSchema) error { return nil }

func (noIntrospection) MutateOperationContext(_ context.Context, op *graphql.OperationContext) *gqlerror.Error {
	if op.Operation == nil || !asksIntrospection(op.Operation.SelectionSet, map[string]bool{}) {
		return nil
	}
	return &gqlerror.Error{Message: "introspection is turned off on this node",
		Extensions: map[string]any{"code": codeValidationFailed}}
}

// asksIntrospection reports whether set selects __schema or __type at its
// top (through fragments too).
func asksIntrospection(set ast.SelectionSet, seen map[string]bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				return true
			}
		case *ast.InlineFragment:
			if asksIntrospection(s.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Definition != nil && !seen[s.Name] {
				seen[s.Name] = true
				if asksIntrospection(s.Definition.SelectionSet, seen) {
					return true
				}
			}
		}
	}
	return false
}
