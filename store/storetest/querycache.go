package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rpg-archivist/archivist"
)

// testQueryCache covers archivist.QueryCache, which a store may implement
// (all of ours do); a store without it skips these cases.
func testQueryCache(t *testing.T, s suite) {
	cache := func(h *fixture) archivist.QueryCache {
		h.t.Helper()
		qc, ok := h.s.(archivist.QueryCache)
		if !ok {
			h.t.Skipf("%T does not implement archivist.QueryCache", h.s)
		}
		return qc
	}
	get := func(h *fixture, qc archivist.QueryCache, hash string) (string, bool) {
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
		hash := archivist.QueryHash(query)
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
		long := "{" + strings.Repeat(" ", archivist.MaxPersistedQueryBytes-len("{ session }")) + " session }"
		if err := qc.PutQuery(h.ctx(), archivist.QueryHash(long), long); err != nil {
			t.Fatalf("PutQuery of %d bytes: %v", len(long), err)
		}
		if got, ok := get(h, qc, archivist.QueryHash(long)); !ok || got != long {
			t.Errorf("the longest query did not come back (ok %v, %d bytes)", ok, len(got))
		}
	})

	s.run(t, "Refused", func(t *testing.T, h *fixture) {
		qc := cache(h)
		query := "{ nodes { id } }"
		other := archivist.QueryHash("{ tasks { totalCount } }")
		h.wantCode(qc.PutQuery(h.ctx(), other, query), archivist.CodeBadUserInput, "PutQuery under another query's hash")
		h.wantCode(qc.PutQuery(h.ctx(), strings.ToUpper(archivist.QueryHash(query)), query), archivist.CodeBadUserInput,
			"PutQuery under an upper-case hash")
		h.wantCode(qc.PutQuery(h.ctx(), "not-a-hash", query), archivist.CodeBadUserInput, "PutQuery under a malformed hash")
		tooLong := "{" + strings.Repeat(" ", archivist.MaxPersistedQueryBytes) + "nodes { id } }"
		h.wantCode(qc.PutQuery(h.ctx(), archivist.QueryHash(tooLong), tooLong), archivist.CodeBadUserInput, "PutQuery too long")
		for _, hash := range []string{other, archivist.QueryHash(query), archivist.QueryHash(tooLong)} {
			if q, ok := get(h, qc, hash); ok {
				t.Errorf("a refused query was stored under %s: %.40q", hash, q)
			}
		}
	})

	s.run(t, "MalformedHash", func(t *testing.T, h *fixture) {
		qc := cache(h)
		query := "{ session { authRequired } }"
		if err := qc.PutQuery(h.ctx(), archivist.QueryHash(query), query); err != nil {
			t.Fatal(err)
		}
		hash := archivist.QueryHash(query)
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
				hash := archivist.QueryHash(query)
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
