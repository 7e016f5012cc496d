package graph

import (
	"context"
	"log/slog"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/alert"
)

//go:generate go tool gqlgen generate

// EventSource is where subscriptions read events from. archivist.Store
// satisfies it; a fan-out hub that shares one store subscription among many
// clients may replace it.
type EventSource interface {
	Subscribe(ctx context.Context, after uint64) (archivist.Subscription, error)
}

// AlertSource is where alerts come from (the alert package's Evaluator).
type AlertSource interface {
	Alerts(includeResolved bool) []alert.Alert
	Subscribe(ctx context.Context) <-chan alert.Alert
}

// Resolver holds the dependencies of the resolvers; it keeps no state of its
// own. Store and Registry are required; the others have defaults.
type Resolver struct {
	// Store holds tasks, nodes, the configuration and leadership.
	Store archivist.Store
	// Registry holds the task types submissions are checked against.
	Registry *archivist.Registry
	// Events feeds subscriptions; nil means Store.
	Events EventSource
	// Logger gets internal errors and panics; nil discards them.
	Logger *slog.Logger
	// Alerts, if set, gives the alerts query and subscription; without it
	// they are empty.
	Alerts AlertSource
	// OnSubmitted, if set, is told of tasks stored through this node, with
	// the configuration they were checked against (local processing uses
	// it). It must not block.
	OnSubmitted func(ctx context.Context, cfg archivist.Config, tasks []*archivist.Task)
	// Security tells the session query how this node guards its API.
	Security Security
	// Now is the clock (node status, leadership, config timestamps); nil
	// means time.Now.
	Now func() time.Time
	// Settings, if set, gives the configuration this node applied (which
	// follows configUpdated): submissions are checked against it instead
	// of reading the store's for each (one round trip less per
	// submission). ok false, or Settings nil: the store's is read.
	Settings func() (cfg archivist.Config, ok bool)
	// OnConfigUpdated, if set, is told of a configuration stored through
	// this node, before the mutation answers, so that the node's next
	// submission is checked against it.
	OnConfigUpdated func(archivist.Config)
}

// Security is how a node guards its API, as the session query tells it.
type Security struct {
	// AuthRequired is set when the node needs an API key.
	AuthRequired bool
	// Insecure is set when the node listens beyond loopback without keys
	// (--insecure).
	Insecure bool
	// TLS is set when the API is served over TLS.
	TLS bool
}
