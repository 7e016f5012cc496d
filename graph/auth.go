package graph

import (
	"context"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/auth"
	"github.com/rpg-archivist/archivist/graph/model"
)

// mutationRoles is the role each mutation needs; queries and subscriptions
// need a viewer. A mutation not listed needs an admin, so that a new one is
// closed until it is placed here.
var mutationRoles = map[string]auth.Role{
	"submitTask":  auth.Operator,
	"submitTasks": auth.Operator,
	"cancelTask":  auth.Operator,
	"retryTask":   auth.Operator,
	"drainNode":   auth.Operator,
	"resumeNode":  auth.Operator,
	// Schedules submit tasks: operators manage them.
	"createSchedule":  auth.Operator,
	"updateSchedule":  auth.Operator,
	"pauseSchedule":   auth.Operator,
	"resumeSchedule":  auth.Operator,
	"deleteSchedule":  auth.Operator,
	"triggerSchedule": auth.Operator,
	// Workflows: submitted as tasks are, cancelled and retried as tasks are.
	"submitWorkflow": auth.Operator,
	"cancelWorkflow": auth.Operator,
	"retryWorkflow":  auth.Operator,
	// Bulk operations: cancel and retry as their single forms; deleting
	// tasks loses history, which is the admin's call.
	"cancelTasks": auth.Operator,
	"retryTasks":  auth.Operator,
	"deleteTasks": auth.Admin,
	// Flow control: operators pause and resume task types; limits are
	// admin's (they bound the whole cluster).
	"pauseTaskType":  auth.Operator,
	"resumeTaskType": auth.Operator,
	"setLimit":       auth.Admin,
	"deleteLimit":    auth.Admin,
	"updateConfig":   auth.Admin,
	"removeNode":     auth.Admin,
	"updateNode":     auth.Admin,
}

// RequiredRole is the role an operation needs: the highest its top-level
// fields need.
func RequiredRole(op *ast.OperationDefinition) auth.Role {
	if op.Operation != ast.Mutation {
		return auth.Viewer
	}
	need := auth.Viewer
	for _, sel := range op.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok {
			return auth.Admin // fragments on Mutation: take the safe side
		}
		if f.Name == "__typename" {
			continue
		}
		r, ok := mutationRoles[f.Name]
		if !ok {
			r = auth.Admin
		}
		need = max(need, r)
	}
	return need
}

// WithAuth resolves the request's API key (Authorization: Bearer) into its
// principal for the resolvers and the role check. WebSocket connections
// present theirs in connection_init instead (see NewHandler).
func WithAuth(next http.Handler, keys *auth.Keyring) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := keys.Resolve(auth.BearerToken(r.Header.Get("Authorization")))
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// authInit checks the key in a WebSocket's connection_init payload
// ("Authorization": "Bearer KEY", or "token": "KEY"); a connection without a
// valid key is closed with 4401.
func authInit(keys *auth.Keyring) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		token := auth.BearerToken(payload.Authorization())
		if token == "" {
			token = payload.GetString("token")
		}
		if token == "" {
			// A browser cannot set headers on a WebSocket, but a client
			// may have sent the header with the upgrade request.
			if p := auth.From(ctx); p.Authenticated || p.AuthOff {
				return ctx, nil, nil
			}
		}
		p := keys.Resolve(token)
		if !p.AuthOff && !p.Authenticated {
			return transport.WithWebsocketCloseCode(ctx, 4401), nil, archivist.Errorf(archivist.CodeUnauthenticated, "missing or invalid API key")
		}
		return auth.WithPrincipal(ctx, p), nil, nil
	}
}

// roleCheck refuses operations the caller's role does not allow.
type roleCheck struct{ keys *auth.Keyring }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = roleCheck{}

func (roleCheck) ExtensionName() string { return "RoleCheck" }

func (roleCheck) Validate(graphql.ExecutableSchema) error { return nil }

func (c roleCheck) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	if c.keys.Len() == 0 || op.Operation == nil || openOperation(op.Operation) {
		return nil
	}
	// A WebSocket keeps the principal of its connection_init: a key removed
	// (or given another role) by a reload since counts from the next
	// operation on.
	p := currentPrincipal(ctx, c.keys)
	need := RequiredRole(op.Operation)
	switch {
	case !p.Authenticated:
		return errUnauthenticated()
	case p.Role < need:
		return errForbidden(need, p.Role)
	}
	return nil
}

// InsecureWarning is what a node started with --insecure says at start and
// in the session query.
const InsecureWarning = "INSECURE: this node listens beyond loopback without API keys; anyone who can reach it can submit tasks, change the configuration and remove nodes. Give it keys (--api-keys or --api-keys-file)."

// openFields may be asked without a key, alone in their operation.
var openFields = map[string]bool{"session": true, "__typename": true}

// openOperation reports whether op is a query of open fields only.
func openOperation(op *ast.OperationDefinition) bool {
	if op.Operation != ast.Query || len(op.SelectionSet) == 0 {
		return false
	}
	for _, sel := range op.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok || !openFields[f.Name] {
			return false
		}
	}
	return true
}

func apiRole(r auth.Role) model.APIRole {
	switch r {
	case auth.Admin:
		return model.APIRoleAdmin
	case auth.Operator:
		return model.APIRoleOperator
	}
	return model.APIRoleViewer
}
