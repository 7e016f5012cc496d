package graph

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
)

// fakeSub is a subscription fed by the test.
type fakeSub struct {
	c      chan archivist.Event
	once   sync.Once
	closed chan struct{}
}

func newFakeSub() *fakeSub {
	return &fakeSub{c: make(chan archivist.Event), closed: make(chan struct{})}
}

func (s *fakeSub) C() <-chan archivist.Event { return s.c }
func (s *fakeSub) Err() error                { return nil }
func (s *fakeSub) Close()                    { s.once.Do(func() { close(s.closed) }) }

// A slow reader of feedLatest gets the current state first, then only the
// newest of the values that came while it did not read; the feed closes
// its subscription when the context ends.
func TestFeedLatestCoalesces(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	sub := newFakeSub()
	pick := func(_ context.Context, ev archivist.Event) (uint64, bool, error) { return ev.Seq, ev.Seq%2 == 0, nil }
	out := feedLatest(ctx, &Resolver{}, sub, pick, 1)

	// The events are taken while the first value waits to be read.
	for seq := uint64(2); seq <= 10; seq++ {
		select {
		case sub.c <- archivist.Event{Seq: seq}:
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d not taken: the feed must read events while the client does not", seq)
		}
	}
	sub.c <- archivist.Event{Seq: 11} // not picked
	if v := <-out; v != 10 {
		t.Errorf("first value read %d, want 10 (the state sent first was replaced by the newest)", v)
	}
	sub.c <- archivist.Event{Seq: 12}
	if v := <-out; v != 12 {
		t.Errorf("then %d, want 12", v)
	}
	cancel()
	select {
	case <-sub.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the subscription was not closed when the context ended")
	}
	if _, ok := <-out; ok {
		t.Error("the channel is still open")
	}
}
