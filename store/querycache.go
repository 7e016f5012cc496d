package store

import (
	"container/list"
	"context"
	"sync"

	"github.com/rpg-archivist/archivist"
)

// engineQueryBytes bounds the persisted queries the memory and embedded
// stores keep (their text plus queryOverhead each, in bytes); the least
// recently used go first.
const engineQueryBytes = 8 << 20

// queryOverhead is about what an entry costs beyond its text (map entry,
// list element, hash): counted so that many tiny queries are bounded too.
const queryOverhead = 160

var (
	_ archivist.QueryCache = (*Memory)(nil)
	_ archivist.QueryCache = (*Bolt)(nil)
)

// GetQuery returns a persisted query. The memory and embedded stores keep
// them in memory only (one node; a client re-registers after a restart).
func (e *engine) GetQuery(_ context.Context, hash string) (string, bool, error) {
	if !archivist.ValidQueryHash(hash) {
		return "", false, nil
	}
	q, ok := e.queries.get(hash)
	return q, ok, nil
}

// PutQuery keeps a persisted query, evicting the least recently used ones
// beyond engineQueryBytes.
func (e *engine) PutQuery(_ context.Context, hash, query string) error {
	if err := archivist.CheckPersistedQuery(hash, query); err != nil {
		return err
	}
	e.queries.put(hash, query, engineQueryBytes)
	return nil
}

// queryLRU is a least-recently-used map of queries bounded by the bytes of
// their text. The zero value is empty and ready.
type queryLRU struct {
	mu    sync.Mutex
	byKey map[string]*list.Element // of *queryEntry
	order list.List                // front: most recently used
	bytes int
}

type queryEntry struct{ hash, query string }

func (c *queryLRU) get(hash string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[hash]
	if !ok {
		return "", false
	}
	c.order.MoveToFront(el)
	return el.Value.(*queryEntry).query, true
}

func (c *queryLRU) put(hash, query string, maxBytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey = map[string]*list.Element{}
	}
	if el, ok := c.byKey[hash]; ok {
		c.order.MoveToFront(el) // same hash, same text
		return
	}
	c.byKey[hash] = c.order.PushFront(&queryEntry{hash: hash, query: query})
	c.bytes += len(query) + queryOverhead
	for c.bytes > maxBytes {
		el := c.order.Back()
		old := el.Value.(*queryEntry)
		c.order.Remove(el)
		delete(c.byKey, old.hash)
		c.bytes -= len(old.query) + queryOverhead
	}
}
