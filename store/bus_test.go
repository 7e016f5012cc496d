package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
)

func busEvents(from, n int) []archivist.Event {
	out := make([]archivist.Event, n)
	for i := range out {
		out[i] = archivist.Event{Seq: uint64(from + i), Kind: archivist.EventTask, Type: archivist.EventTaskCreated}
	}
	return out
}

// readSeqs reads n events from sub and checks that their Seqs run from
// first on without a gap.
func readSeqs(t *testing.T, sub archivist.Subscription, first, n int) {
	t.Helper()
	for i := range n {
		select {
		case ev, ok := <-sub.C():
			if !ok {
				t.Fatalf("subscription ended after %d events: %v", i, sub.Err())
			}
			if want := uint64(first + i); ev.Seq != want {
				t.Fatalf("event %d has Seq %d, want %d", i, ev.Seq, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event %d within 5s", i)
		}
	}
}

// A subscriber that falls behind by more than its channel holds, but less
// than the bus allows, gets every event in order from the ring, and then
// live ones again.
func TestBusLaggingSubscriberCatchesUp(t *testing.T) {
	t.Parallel()
	b := newBus(100, 1000)
	sub, err := b.subscribe(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	b.publish(busEvents(1, 600)) // far more than subChanSize, unread
	readSeqs(t, sub, 1, 600)
	b.publish(busEvents(601, 5))
	readSeqs(t, sub, 601, 5)
	if err := sub.Err(); err != nil {
		t.Fatalf("Err: %v", err)
	}
}

// A subscriber that lags by more than the limit is dropped with
// ErrSlowSubscriber, and the others are not held back.
func TestBusDropsSlowSubscriber(t *testing.T) {
	t.Parallel()
	b := newBus(100, 200)
	slow, _ := b.subscribe(context.Background(), 0)
	fast, _ := b.subscribe(context.Background(), 0)
	defer fast.Close()
	for i := 0; i < 1000; i += 10 {
		b.publish(busEvents(1+i, 10))
		readSeqs(t, fast, 1+i, 10)
	}
	for range slow.C() {
	}
	if err := slow.Err(); !errors.Is(err, archivist.ErrSlowSubscriber) {
		t.Fatalf("slow subscriber's Err: %v, want ErrSlowSubscriber", err)
	}
}

// Close ends a subscription while its pump is feeding it.
func TestBusCloseWhileBehind(t *testing.T) {
	t.Parallel()
	b := newBus(100, 1000)
	sub, _ := b.subscribe(context.Background(), 0)
	b.publish(busEvents(1, 500))
	readSeqs(t, sub, 1, 10)
	sub.Close()
	for range sub.C() {
	}
	if err := sub.Err(); err != nil {
		t.Fatalf("Err after Close: %v", err)
	}
	b.publish(busEvents(501, 10)) // publishing goes on
}
