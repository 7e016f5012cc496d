// Package apq holds the rules of automatic persisted queries that both
// sides of the query cache need, and the one in-memory cache.
//
// The cache abstraction is graph.QueryCache: graph looks queries up and
// registers them, and a store may keep them (the Redis store does, so that
// a query registered through one node is known on every node) by
// implementing that interface structurally. A store must not import graph,
// yet it must refuse what graph would not store (a hash that is not a
// Hash could build a key anywhere, a query over the byte cap would eat
// a shared budget), and the memory and embedded stores keep their queries
// exactly as graph's in-memory fallback does. So the rules (Hash,
// ValidHash, Check, MaxQueryBytes) and the in-memory cache (Memory) live
// here, below both, rather than in the root package, which holds the
// domain only.
package apq

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/rpg-archivist/archivist"
)

// MaxQueryBytes bounds the text of a persisted query: a cache refuses a
// longer one. Inputs travel in variables, so real queries are a few
// kilobytes.
const MaxQueryBytes = 64 << 10

// Hash is the key of a query in a cache: the lower-case hex SHA-256 of its
// text, as clients of automatic persisted queries compute it.
func Hash(query string) string {
	h := sha256.Sum256([]byte(query))
	return hex.EncodeToString(h[:])
}

// ValidHash reports whether hash has the form of a Hash.
func ValidHash(hash string) bool {
	if len(hash) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(hash); i++ {
		if c := hash[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Check returns the BAD_USER_INPUT error a cache's PutQuery gives for a
// query too long, empty, or a hash that is not of the form of a Hash, or
// nil. That the hash is the SHA-256 of the text the client sent is the
// caller's to check, before it normalises the text: the cache may be given
// a normal form of it.
func Check(hash, query string) error {
	if len(query) > MaxQueryBytes {
		return archivist.Errorf(archivist.CodeBadUserInput, "persisted query is %d bytes; the limit is %d", len(query), MaxQueryBytes)
	}
	if query == "" {
		return archivist.Errorf(archivist.CodeBadUserInput, "persisted query is empty")
	}
	if !ValidHash(hash) {
		return archivist.Errorf(archivist.CodeBadUserInput, "persisted query hash is not a lower-case hex SHA-256")
	}
	return nil
}

// EntryOverhead is about what an entry of Memory costs beyond its text
// (map entry, list element, hash): counted in the budget so that many tiny
// queries are bounded too.
const EntryOverhead = 160

// Memory is a query cache in this process's memory, bounded by the bytes
// of the queries it holds (each counted as its text plus EntryOverhead);
// the least recently used go first. It implements graph.QueryCache. Safe
// for concurrent use.
type Memory struct {
	maxBytes int

	mu    sync.Mutex
	byKey map[string]*list.Element // of *entry
	order list.List                // front: most recently used
	bytes int
}

type entry struct{ hash, query string }

// NewMemory returns an empty cache that keeps at most maxBytes.
func NewMemory(maxBytes int) *Memory {
	return &Memory{maxBytes: maxBytes, byKey: map[string]*list.Element{}}
}

// GetQuery returns the query stored under hash and counts it as used; a
// hash that is not of the form of a Hash never matches.
func (m *Memory) GetQuery(_ context.Context, hash string) (string, bool, error) {
	if !ValidHash(hash) {
		return "", false, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.byKey[hash]
	if !ok {
		return "", false, nil
	}
	m.order.MoveToFront(el)
	return el.Value.(*entry).query, true, nil
}

// PutQuery stores query under hash (see Check for what it refuses),
// evicting the least recently used beyond the budget.
func (m *Memory) PutQuery(_ context.Context, hash, query string) error {
	if err := Check(hash, query); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.byKey[hash]; ok {
		m.order.MoveToFront(el) // same hash, same text
		return nil
	}
	m.byKey[hash] = m.order.PushFront(&entry{hash: hash, query: query})
	m.bytes += len(query) + EntryOverhead
	for m.bytes > m.maxBytes {
		el := m.order.Back()
		old := el.Value.(*entry)
		m.order.Remove(el)
		delete(m.byKey, old.hash)
		m.bytes -= len(old.query) + EntryOverhead
	}
	return nil
}

// Len returns how many queries the cache holds and the bytes it counts for
// them.
func (m *Memory) Len() (entries, bytes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len(), m.bytes
}
