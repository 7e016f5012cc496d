package graph_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/graph"
	"github.com/rpg-archivist/archivist/internal/apq"
	"github.com/rpg-archivist/archivist/server"
)

// TestArgumentLimitCountsEachUseOfAVariable checks that one request cannot
// multiply a variable into more than MaxArgumentBytes of task inputs: a
// submitTasks that uses one 100 KiB variable in 100 tasks (10 MB once
// expanded, from a body of 100 KiB) is refused with BAD_USER_INPUT and
// stores nothing, as are aliases of submitTask doing the same through a
// fragment spread twice; fewer uses pass.
func TestArgumentLimitCountsEachUseOfAVariable(t *testing.T) {
	t.Parallel()
	e := setup(t)
	big := map[string]any{"blob": strings.Repeat("x", 100<<10)}
	batch := func(n int) string {
		items := strings.TrimSuffix(strings.Repeat(`{type: "echo", input: $v, metadata: $v}, `, n), ", ")
		return `mutation($v: JSON) { submitTasks(inputs: [` + items + `]) { id } }`
	}
	count := func() int {
		var out struct{ Tasks struct{ TotalCount int } }
		e.must(t, `{ tasks { totalCount } }`, nil, &out)
		return out.Tasks.TotalCount
	}

	r := e.post(t, batch(50), map[string]any{"v": big})
	wantError(t, r, "BAD_USER_INPUT", "once its variables are expanded", "the limit is 8388608")
	if n := count(); n != 0 {
		t.Fatalf("a refused request stored %d tasks", n)
	}

	aliases := func(prefix string) string {
		var out []string
		for i := range 30 {
			out = append(out, fmt.Sprintf(`%s%d: submitTask(input: {type: "echo", input: $v}) { id }`, prefix, i))
		}
		return strings.Join(out, " ")
	}
	r = e.post(t, `mutation($v: JSON) { ...F ...G } fragment F on Mutation { `+aliases("a")+
		` } fragment G on Mutation { ...H } fragment H on Mutation { `+aliases("b")+` } `,
		map[string]any{"v": map[string]any{"blob": strings.Repeat("y", 200<<10)}})
	wantError(t, r, "BAD_USER_INPUT", "once its variables are expanded")
	if n := count(); n != 0 {
		t.Fatalf("a refused request stored %d tasks", n)
	}

	e.must(t, batch(20), map[string]any{"v": big}, nil) // 4 MB
	if n := count(); n != 20 {
		t.Fatalf("%d tasks stored, want 20", n)
	}
}

// TestQueryCacheBoundedByBytes checks that the parsed-query cache is
// bounded by the memory it holds, not only by its count: 24 distinct
// queries of 1 MiB each (comments do not count as tokens) stay within
// QueryCacheBytes of heap once served, where a cache of 1,000 entries would
// keep all 24 MiB.
func TestQueryCacheBoundedByBytes(t *testing.T) {
	// Not parallel: it measures the heap.
	const budget = 8 << 20
	e := setup(t, func(_ *graph.Resolver, o *graph.HandlerOptions) { o.QueryCacheBytes = budget })
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	filler := strings.Repeat("x", 1<<20)
	for i := range 24 {
		r := e.post(t, fmt.Sprintf("{ __typename } # %d %s", i, filler), nil)
		if len(r.Errors) > 0 {
			t.Fatalf("query %d: %+v", i, r.Errors)
		}
	}
	after := heap()
	if grew := int64(after) - int64(before); grew > budget+4<<20 {
		t.Errorf("the heap grew by %d MiB after 24 queries of 1 MiB; the cache budget is %d MiB", grew>>20, budget>>20)
	}
}

// recordingQueries is a query cache in memory that shows what was stored.
type recordingQueries struct {
	mu sync.Mutex
	m  map[string]string
}

func (r *recordingQueries) GetQuery(_ context.Context, hash string) (string, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := r.m[hash]
	return q, ok, nil
}

func (r *recordingQueries) PutQuery(_ context.Context, hash, query string) error {
	if err := apq.Check(hash, query); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]string{}
	}
	r.m[hash] = query
	return nil
}

func (r *recordingQueries) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}

// TestPersistedQueriesNeedAKey checks that on a node with keys a caller
// without a valid key stores no persisted query, not even one of the open
// fields it may run (session, __typename), padded with a comment; a caller
// with a key does, and what is stored is the query without comments and
// blanks, under the hash of the text sent, which then works by hash alone.
func TestPersistedQueriesNeedAKey(t *testing.T) {
	t.Parallel()
	rec := &recordingQueries{}
	e := setupLimits(t, "viewer:"+limitViewerKey, func(o *graph.HandlerOptions) {
		o.PersistedQueries = graph.StoreQueryCache(rec)
	})
	query := "query Open {\n  # who am I?\n  session { authRequired }, __typename\n} # " + strings.Repeat("padding ", 4000)
	hash := apq.Hash(query)
	for _, key := range []string{"", "wrong-key"} {
		r := e.send(t, key, apqBody(query, hash))
		if key == "" && len(r.Errors) > 0 {
			t.Fatalf("the open query without a key: %+v", r.Errors)
		}
		if n := rec.len(); n != 0 {
			t.Fatalf("a caller with key %q stored a persisted query", key)
		}
		wantError(t, e.send(t, key, apqBody("", hash)).gqlResponse, "PERSISTED_QUERY_NOT_FOUND")
	}

	if r := e.send(t, limitViewerKey, apqBody(query, hash)); len(r.Errors) > 0 {
		t.Fatalf("with a key: %+v", r.Errors)
	}
	stored, ok, _ := rec.GetQuery(t.Context(), hash)
	if want := "query Open{session{authRequired}__typename}"; !ok || stored != want {
		t.Fatalf("stored %.80q (%v), want %q", stored, ok, want)
	}
	// By hash alone, without a key (the open query needs none).
	r := e.send(t, "", apqBody("", hash))
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"__typename":"Query"`) {
		t.Fatalf("by hash: %+v %s", r.Errors, r.Data)
	}
}

// TestSlowBodyAnswered checks that /graphql behind the server's body
// deadline answers a body sent too slowly with 408 and BAD_USER_INPUT (not
// 413, as if it were too large).
func TestSlowBodyAnswered(t *testing.T) {
	t.Parallel()
	e := setup(t)
	srv := httptest.NewServer(server.New(server.Config{GraphQL: e.srv.Config.Handler, BodyTimeout: 200 * time.Millisecond}).Handler())
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "POST /graphql HTTP/1.1\r\nHost: "+srv.Listener.Addr().String()+
		"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"query\":")
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a slow body: %v", err)
	}
	defer resp.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	out.Status = resp.StatusCode
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status %d, want 408", resp.StatusCode)
	}
	wantError(t, out, "BAD_USER_INPUT", "not received in time")
}
