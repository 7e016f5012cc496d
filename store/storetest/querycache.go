package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/apq"
)

// queryCache is graph.QueryCache, which a store implements structurally:
// the store packages, this suite among them, do not import graph (store's
// tests check that every store of ours implements graph.QueryCache).
type queryCache interface {
	GetQuery(ctx context.Context, hash string) (query string, ok bool, err error)
	PutQuery(ctx context.Context, hash, query string) error
}

// testQueryCache covers graph.QueryCache, which a store may implement (all
// of ours do); a store without it skips these cases.
func testQueryCache(t *testing.T, s suite) {
	cache := func(h *fixture) queryCache {
		h.t.Helper()
		qc, ok := h.s.(queryCache)
		if !ok {
			h.t.Skipf("%T does not implement graph.QueryCache", h.s)
		}
		return qc
	}
	get := func(h *fixture, qc queryCache, hash string) (string, bool) {
		h.t.Helper()
		q, ok, err := qc.GetQuery(h.ctx(), hash)
		if err != nil {
			h.t.Fatalf("GetQuery(%.16q): %v", hash, err)
		}
		return q, ok
	}

	s.run(t, "PutGet", func(t *testing.T, h *fixture) {
		qc := cache(h)
		query := "query Tasks { tasks(first: 5) { edges { node { id status } } } } # ünïcode ✓"
		hash := apq.Hash(query)
		if _, ok := get(h, qc, hash); ok {
			t.Fatalf("a fresh store knows query %s", hash)
		}
		for range 2 { // storing it again is harmless
			if err := qc.PutQuery(h.ctx(), hash, query); err != nil {
				t.Fatalf("PutQuery: %v", err)
			}
		}
		if got, ok := get(h, qc, hash); !ok || got != query {
			t.Errorf("GetQuery = %q, %v; want %q", got, ok, query)
		}
		// The longest query allowed fits.
		long := "{" + strings.Repeat(" ", apq.MaxQueryBytes-len("{ session }")) + " session }"
		if err := qc.PutQuery(h.ctx(), apq.Hash(long), long); err != nil {
			t.Fatalf("PutQuery of %d bytes: %v", len(long), err)
		}
		if got, ok := get(h, qc, apq.Hash(long)); !ok || got != long {
			t.Errorf("the longest query did not come back (ok %v, %d bytes)", ok, len(got))
		}
	})

	s.run(t, "NormalForm", func(t *testing.T, h *fixture) {
		// The caller checks the hash against the text the client sent and
		// stores a normal form of it under that hash.
		qc := cache(h)
		sent := "# list them\n{ nodes { id } }"
		hash := apq.Hash(sent)
		if err := qc.PutQuery(h.ctx(), hash, "{nodes{id}}"); err != nil {
			t.Fatalf("PutQuery of a normal form: %v", err)
		}
		if got, ok := get(h, qc, hash); !ok || got != "{nodes{id}}" {
			t.Errorf("GetQuery = %q, %v; want the normal form", got, ok)
		}
	})

	s.run(t, "BoundedByBytes", func(t *testing.T, h *fixture) {
		// 40 MiB of queries: every store keeps at most 32 MiB, the most
		// recent ones.
		qc := cache(h)
		const n = 640
		query := func(i int) string {
			return fmt.Sprintf("{ task(id: \"%04d\") { id } }", i) + strings.Repeat(" ", apq.MaxQueryBytes-64)
		}
		for i := range n {
			q := query(i)
			if err := qc.PutQuery(h.ctx(), apq.Hash(q), q); err != nil {
				t.Fatalf("PutQuery %d: %v", i, err)
			}
		}
		kept := 0
		for i := range n {
			if _, ok := get(h, qc, apq.Hash(query(i))); ok {
				kept++
			}
		}
		if max := (32 << 20) / apq.MaxQueryBytes; kept > max {
			t.Errorf("%d queries of 64 KiB kept, over 32 MiB (%d)", kept, max)
		}
		if _, ok := get(h, qc, apq.Hash(query(n-1))); !ok {
			t.Error("the query stored last is gone")
		}
		if _, ok := get(h, qc, apq.Hash(query(0))); ok {
			t.Error("the query stored first (least recently used) is kept")
		}
	})

	s.run(t, "Refused", func(t *testing.T, h *fixture) {
		qc := cache(h)
		query := "{ nodes { id } }"
		h.wantCode(qc.PutQuery(h.ctx(), apq.Hash(query), ""), archivist.CodeBadUserInput, "PutQuery of an empty query")
		h.wantCode(qc.PutQuery(h.ctx(), strings.ToUpper(apq.Hash(query)), query), archivist.CodeBadUserInput,
			"PutQuery under an upper-case hash")
		h.wantCode(qc.PutQuery(h.ctx(), "not-a-hash", query), archivist.CodeBadUserInput, "PutQuery under a malformed hash")
		tooLong := "{" + strings.Repeat(" ", apq.MaxQueryBytes) + "nodes { id } }"
		h.wantCode(qc.PutQuery(h.ctx(), apq.Hash(tooLong), tooLong), archivist.CodeBadUserInput, "PutQuery too long")
		for _, hash := range []string{apq.Hash(query), apq.Hash(tooLong)} {
			if q, ok := get(h, qc, hash); ok {
				t.Errorf("a refused query was stored under %s: %.40q", hash, q)
			}
		}
	})

	s.run(t, "MalformedHash", func(t *testing.T, h *fixture) {
		qc := cache(h)
		query := "{ session { authRequired } }"
		if err := qc.PutQuery(h.ctx(), apq.Hash(query), query); err != nil {
			t.Fatal(err)
		}
		hash := apq.Hash(query)
		for _, bad := range []string{"", "x", hash[:63], hash + "0", strings.ToUpper(hash), "../" + hash[3:], "*", "{archivist:x}:" + hash} {
			if q, ok := get(h, qc, bad); ok {
				t.Errorf("GetQuery(%q) = %q: a malformed hash matched", bad, q)
			}
		}
	})

	s.run(t, "Concurrent", func(t *testing.T, h *fixture) {
		qc := cache(h)
		const n = 32
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range n {
			wg.Go(func() {
				query := fmt.Sprintf(`{ task(id: "%d") { id } }`, i)
				hash := apq.Hash(query)
				if err := qc.PutQuery(h.ctx(), hash, query); err != nil {
					errs <- err
					return
				}
				got, ok, err := qc.GetQuery(h.ctx(), hash)
				if err != nil || !ok || got != query {
					errs <- fmt.Errorf("GetQuery after PutQuery of %q: %q, %v, %v", query, got, ok, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}
