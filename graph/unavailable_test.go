package graph_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph"
)

// unreachableStore fails as the Redis store does while Redis is down: an
// UNAVAILABLE error naming the store, wrapping the network error.
type unreachableStore struct{ archivist.Store }

func errUnreachable(op string) error {
	return fmt.Errorf("redis store: %s: %w", op, errors.Join(
		archivist.Errorf(archivist.CodeUnavailable, "the Redis store at 127.0.0.1:7001 cannot be reached"),
		errors.New("dial tcp 127.0.0.1:7001: connect: connection refused")))
}

func (unreachableStore) ListNodes(context.Context) ([]*archivist.Node, error) {
	return nil, errUnreachable("list nodes")
}

func (unreachableStore) GetTask(context.Context, string) (*archivist.Task, error) {
	return nil, errUnreachable("get task")
}

func (unreachableStore) CreateTasks(context.Context, []*archivist.Task) error {
	return errUnreachable("create tasks")
}

// TestStoreUnavailable: a store out of reach is UNAVAILABLE with the
// store's name, for queries and mutations, not INTERNAL; nothing is logged
// as an internal error.
func TestStoreUnavailable(t *testing.T) {
	t.Parallel()
	e := setup(t, func(r *graph.Resolver, _ *graph.HandlerOptions) {
		r.Store = unreachableStore{r.Store}
	})
	for _, q := range []string{
		`{ nodes { id } }`,
		`{ task(id: "x") { id } }`,
		`mutation { submitTask(input: {type: "echo", input: 1}) { id } }`,
	} {
		r := e.post(t, q, nil)
		wantError(t, r, "UNAVAILABLE", "the Redis store at 127.0.0.1:7001 cannot be reached")
		if strings.Contains(r.Errors[0].Message, "dial tcp") {
			t.Errorf("%s: the cause leaked: %q", q, r.Errors[0].Message)
		}
	}
	if logs := e.logs.String(); strings.Contains(logs, "internal error") {
		t.Errorf("an unreachable store was logged as an internal error:\n%s", logs)
	}
}
