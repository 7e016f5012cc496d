package graph

import (
	"context"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/rpg-archivist/archivist/auth"
	"github.com/rpg-archivist/archivist/internal/apq"
)

// DefaultPersistedQueryBytes bounds the in-memory persisted queries a
// handler keeps when HandlerOptions.PersistedQueries is nil (their text,
// in bytes; the least recently used go first).
const DefaultPersistedQueryBytes = 8 << 20

// QueryCache keeps the text of GraphQL queries by the hex SHA-256 of the
// text the client sent (apq.Hash), for automatic persisted queries: a
// client sends the hash alone and the full query only when the server does
// not know it. The text kept may be a normal form of the one sent (the same
// query without its comments and blanks), so a cache cannot check the hash
// against it: the caller has. Each implementation bounds the bytes it
// keeps. A store may implement it, structurally (store does not import
// graph): the Redis store does, so that a query registered through one node
// is known on every node of the cluster; the memory and embedded stores
// keep the same in-memory cache (apq.Memory) that a handler keeps when
// given none. Entries may be evicted or expire at any time: a miss costs
// the client one more round trip, never an error. Safe for concurrent use.
type QueryCache interface {
	// GetQuery returns the query stored under hash; ok is false when there
	// is none (a hash that is not 64 lower-case hex digits never matches).
	// Using an entry may extend its life.
	GetQuery(ctx context.Context, hash string) (query string, ok bool, err error)
	// PutQuery stores query under hash, evicting others beyond the
	// cache's budget. The hash must have the form of an apq.Hash (the
	// caller has checked it against the text the client sent, of which
	// query is the text or a normal form) and the query be at most
	// apq.MaxQueryBytes long, else BAD_USER_INPUT (see apq.Check).
	PutQuery(ctx context.Context, hash, query string) error
}

// StoreQueryCache adapts a store's query cache to gqlgen's automatic
// persisted queries, so that a query registered through one node is known
// on every node that shares the store. A store error never fails a
// request: a lookup that fails is a miss (the client then sends the full
// query), a registration that fails is skipped; both are logged at debug
// level with the handler's logger.
func StoreQueryCache(q QueryCache) graphql.Cache[string] {
	return storeQueryCache{q: q, log: slog.New(slog.DiscardHandler)}
}

type storeQueryCache struct {
	q   QueryCache
	log *slog.Logger
}

func (c storeQueryCache) Get(ctx context.Context, hash string) (string, bool) {
	if !apq.ValidHash(hash) {
		return "", false
	}
	q, ok, err := c.q.GetQuery(ctx, hash)
	if err != nil {
		c.log.DebugContext(ctx, "graphql: persisted query lookup failed; taken as unknown", "hash", hash, "err", err)
		return "", false
	}
	return q, ok
}

func (c storeQueryCache) Add(ctx context.Context, hash, query string) {
	if err := c.q.PutQuery(ctx, hash, query); err != nil {
		c.log.DebugContext(ctx, "graphql: persisted query not stored", "hash", hash, "err", err)
	}
}

// withLogger is how NewHandler gives the adapter its logger.
func (c storeQueryCache) withLogger(l *slog.Logger) graphql.Cache[string] {
	c.log = l
	return c
}

// usePersistedQueries turns on automatic persisted queries over cache (nil:
// an in-memory one). gqlgen's extension looks a hash up before the query is
// parsed; a query the client sends with its hash is stored only once it
// has passed every check added before this call (token limit, validation,
// depth, complexity, role), so that a query too big, invalid or not
// allowed to its sender is never stored, nor shared with other nodes. A
// client that sends a hash the cache does not know gets the standard
// PersistedQueryNotFound error and sends the full query again.
func usePersistedQueries(srv *handler.Server, cache graphql.Cache[string], keys *auth.Keyring, logger *slog.Logger) {
	if cache == nil {
		cache = StoreQueryCache(apq.NewMemory(DefaultPersistedQueryBytes))
	}
	if c, ok := cache.(interface {
		withLogger(*slog.Logger) graphql.Cache[string]
	}); ok {
		cache = c.withLogger(logger)
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lookupOnly{cache}})
	srv.Use(registerQuery{cache: cache, keys: keys})
}

// lookupOnly is a cache whose Add does nothing: gqlgen's extension adds a
// query before parsing it, and registerQuery does that after the checks.
type lookupOnly struct{ graphql.Cache[string] }

func (lookupOnly) Add(context.Context, string, string) {}

// registerQuery stores a query its client sent with an APQ hash (which
// gqlgen has checked against the text sent) once the operation has passed
// the checks before it. On a node with keys only a caller with a valid key
// stores one: the open fields (session, __typename) need no key to run,
// and would otherwise let anyone fill the store. What is stored is the
// query without its comments and insignificant blanks (normalQuery), under
// the hash of the text the client sent, which is what the client will send
// again.
type registerQuery struct {
	cache graphql.Cache[string]
	keys  *auth.Keyring
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = registerQuery{}

func (registerQuery) ExtensionName() string { return "RegisterPersistedQuery" }

func (registerQuery) Validate(graphql.ExecutableSchema) error { return nil }

func (r registerQuery) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	s := extension.GetApqStats(ctx)
	if s == nil || !s.SentQuery {
		return nil
	}
	if r.keys.Len() > 0 {
		p := auth.From(ctx)
		if !p.Authenticated {
			return nil
		}
		if _, ok := r.keys.Admits(p.KeyHash); !ok {
			return nil
		}
	}
	// gqlgen has compared the hash with the text sent; check again here,
	// where the store can no longer (it gets the normalised text).
	if apq.Hash(op.RawQuery) != s.Hash {
		return nil
	}
	q := normalQuery(op.RawQuery)
	if len(q) > apq.MaxQueryBytes {
		return nil
	}
	r.cache.Add(ctx, s.Hash, q)
	return nil
}
