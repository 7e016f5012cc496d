package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// singleRootField refuses a subscription that selects more than one root
// field ("Single root field" in the GraphQL spec). gqlparser checks this only
// in part (not across aliases nor fragment spreads), and gqlgen would then
// fail the operation as an internal error.
type singleRootField struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = singleRootField{}

func (singleRootField) ExtensionName() string { return "SingleRootField" }

func (singleRootField) Validate(graphql.ExecutableSchema) error { return nil }

func (singleRootField) MutateOperationContext(_ context.Context, op *graphql.OperationContext) *gqlerror.Error {
	if op.Operation == nil || op.Operation.Operation != ast.Subscription {
		return nil
	}
	var keys []string
	seen := map[string]bool{}
	rootResponseKeys(op.Operation.SelectionSet, seen, map[string]bool{}, &keys)
	if len(keys) <= 1 {
		return nil
	}
	shown := keys
	if len(shown) > 5 {
		shown = append(shown[:5:5], "…")
	}
	return &gqlerror.Error{
		Message: fmt.Sprintf("a subscription selects exactly one root field; this one selects %d (%s): open one subscription per field",
			len(keys), strings.Join(shown, ", ")),
		Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"},
	}
}

// rootResponseKeys lists the distinct response keys (alias, else name) of
// set, through fragments; each fragment is visited once.
func rootResponseKeys(set ast.SelectionSet, seen, visited map[string]bool, keys *[]string) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			k := s.Alias
			if k == "" {
				k = s.Name
			}
			if !seen[k] {
				seen[k] = true
				*keys = append(*keys, k)
			}
		case *ast.InlineFragment:
			rootResponseKeys(s.SelectionSet, seen, visited, keys)
		case *ast.FragmentSpread:
			if s.Definition == nil || visited[s.Name] {
				continue
			}
			visited[s.Name] = true
			rootResponseKeys(s.Definition.SelectionSet, seen, visited, keys)
		}
	}
}
