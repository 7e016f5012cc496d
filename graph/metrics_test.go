package graph_test

import (
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist/graph"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// opCounter is a graph.OperationCounter that remembers what it counted.
type opCounter struct {
	mu     sync.Mutex
	counts map[string]int // "op failed" -> count
}

func (c *opCounter) GraphQLRequest(op string, failed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[fmt.Sprintf("%s %v", op, failed)]++
}

func (c *opCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// TestMetricsCountOperations: the handler counts a query, a failing query,
// a request that names no operation and a subscription (once, however many
// events it sends), each by its kind and outcome.
func TestMetricsCountOperations(t *testing.T) {
	t.Parallel()
	var c opCounter
	e := setup(t, func(_ *graph.Resolver, o *graph.HandlerOptions) { o.Metrics = &c })

	if r := e.post(t, `{ nodes { id } }`, nil); len(r.Errors) > 0 {
		t.Fatalf("query: %+v", r.Errors)
	}
	wantError(t, e.post(t, `{ stats(windowSeconds: 0) { windowSeconds } }`, nil), "BAD_USER_INPUT")
	if r := e.post(t, `{ nodes {`, nil); len(r.Errors) == 0 {
		t.Fatal("a broken query went through")
	}

	ws := e.dial(t, protoTransportWS)
	ws.subscribe("1", `subscription { configUpdated { version } }`, nil)
	e.events.waitSubscribed(t, 1)
	want := map[string]int{"query false": 1, "query true": 1, "unknown true": 1, "subscription false": 1}
	testkit.Eventually(t, 5*time.Second, func() bool { return cmp.Equal(c.snapshot(), want) },
		"counts %v, want %v", c.snapshot(), want)
}
