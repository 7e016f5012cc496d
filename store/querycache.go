package store

import "context"

// engineQueryBytes bounds the persisted queries the memory and embedded
// stores keep (their text plus apq.EntryOverhead each, in bytes); the least
// recently used go first.
const engineQueryBytes = 8 << 20

// GetQuery returns a persisted query (graph.QueryCache, implemented
// structurally: store does not import graph). The memory and embedded
// stores keep them in memory only, in the same cache graph keeps when its
// store keeps none (one node; a client re-registers after a restart).
func (e *engine) GetQuery(ctx context.Context, hash string) (string, bool, error) {
	return e.queries.GetQuery(ctx, hash)
}

// PutQuery keeps a persisted query, evicting the least recently used ones
// beyond engineQueryBytes; apq.Check says what it refuses.
func (e *engine) PutQuery(ctx context.Context, hash, query string) error {
	return e.queries.PutQuery(ctx, hash, query)
}
