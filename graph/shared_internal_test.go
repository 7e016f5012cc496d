package graph

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// TestSharedFeedBuffer: subscribers read a feed's responses in order, each
// at its own pace, across the buffer's compactions; one that falls more
// than subscriberLag behind is ended as too slow, alone; the end reaches
// those left after the responses before it.
func TestSharedFeedBuffer(t *testing.T) {
	h := &shareHub{logger: slog.New(slog.DiscardHandler), feeds: map[string]*sharedFeed{}}
	f := &sharedFeed{hub: h, key: "k", members: map[*shareMember]struct{}{}, wake: make(chan struct{}), started: true}
	h.feeds["k"] = f
	fast, slow := &shareMember{feed: f}, &shareMember{feed: f}
	f.members[fast], f.members[slow] = struct{}{}, struct{}{}
	ctx := context.Background()

	const n = 3*subscriberLag + 10
	for i := range n {
		f.broadcast(&graphql.Response{Data: []byte(strconv.Itoa(i))})
		resp, errs := fast.take(ctx)
		if resp == nil || string(resp.Data) != strconv.Itoa(i) {
			t.Fatalf("response %d: got %v (%v)", i, resp, errs)
		}
	}
	if len(f.buf) > 2*subscriberLag {
		t.Errorf("the feed holds %d responses, want at most %d", len(f.buf), 2*subscriberLag)
	}
	// The subscriber that read nothing is too far behind.
	if resp, errs := slow.take(ctx); resp != nil || len(errs) != 1 || !strings.Contains(errs[0].Message, "too slow") {
		t.Fatalf("a subscriber %d behind: %v, %v; want the slow-subscriber error", n, resp, errs)
	}
	if _, ok := f.members[slow]; ok {
		t.Error("the slow subscriber is still a member")
	}
	// The feed goes on for the other; its end comes after what is left.
	f.broadcast(&graphql.Response{Data: []byte("last")})
	f.end(nil)
	if resp, _ := fast.take(ctx); resp == nil || string(resp.Data) != "last" {
		t.Fatalf("after the end: %v, want the last response first", resp)
	}
	if resp, errs := fast.take(ctx); resp != nil || len(errs) != 0 {
		t.Fatalf("at the end: %v, %v; want nothing, without error", resp, errs)
	}
	// A subscriber waiting for the next response stops with its context.
	f2 := &sharedFeed{hub: h, key: "k2", members: map[*shareMember]struct{}{}, wake: make(chan struct{}), started: true}
	w := &shareMember{feed: f2}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if resp, errs := w.take(cctx); resp != nil || errs != nil {
		t.Fatalf("with its context ended: %v, %v", resp, errs)
	}
}
