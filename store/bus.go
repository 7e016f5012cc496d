package store

import (
	"context"
	"sync"

	"github.com/rpg-archivist/archivist"
)

// bus is the in-process event feed: a ring of recent events for catch-up and
// a set of subscribers. Publishing never blocks: a subscriber whose buffer is
// full is dropped with ErrSlowSubscriber.
type bus struct {
	mu      sync.Mutex
	ring    []archivist.Event
	next    int // where the next event goes in ring
	full    bool
	last    uint64
	subs    map[*subscription]struct{}
	bufSize int
	closed  bool
}

func newBus(ringSize, bufSize int) *bus {
	return &bus{ring: make([]archivist.Event, ringSize), subs: map[*subscription]struct{}{}, bufSize: bufSize}
}

// publish appends events (in Seq order) and hands them to subscribers.
func (b *bus) publish(evs []archivist.Event) {
	if len(evs) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ev := range evs {
		b.ring[b.next] = ev
		b.next++
		if b.next == len(b.ring) {
			b.next, b.full = 0, true
		}
		b.last = ev.Seq
		for s := range b.subs {
			select {
			case s.ch <- ev:
			default:
				b.dropLocked(s, archivist.ErrSlowSubscriber)
			}
		}
	}
}

func (b *bus) lastSeq() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// setLast starts the sequence after a restart.
func (b *bus) setLast(seq uint64) {
	b.mu.Lock()
	b.last = seq
	b.mu.Unlock()
}

// backlogLocked returns the kept events with Seq > after, oldest first.
func (b *bus) backlogLocked(after uint64) []archivist.Event {
	var out []archivist.Event
	add := func(evs []archivist.Event) {
		for _, ev := range evs {
			if ev.Seq > after {
				out = append(out, ev)
			}
		}
	}
	if b.full {
		add(b.ring[b.next:])
	}
	add(b.ring[:b.next])
	return out
}

func (b *bus) subscribe(ctx context.Context, after uint64) (archivist.Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, archivist.Errorf(archivist.CodeInternal, "store is closed")
	}
	var backlog []archivist.Event
	if after > 0 && after < b.last {
		backlog = b.backlogLocked(after)
	}
	s := &subscription{bus: b, ch: make(chan archivist.Event, b.bufSize+len(backlog))}
	for _, ev := range backlog {
		s.ch <- ev
	}
	b.subs[s] = struct{}{}
	s.stop = context.AfterFunc(ctx, s.Close)
	return s, nil
}

func (b *bus) dropLocked(s *subscription, err error) {
	if _, ok := b.subs[s]; !ok {
		return
	}
	delete(b.subs, s)
	s.err = err
	close(s.ch)
}

func (b *bus) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		b.dropLocked(s, nil)
	}
}

type subscription struct {
	bus  *bus
	ch   chan archivist.Event
	err  error
	stop func() bool
}

func (s *subscription) C() <-chan archivist.Event { return s.ch }

func (s *subscription) Err() error {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	return s.err
}

func (s *subscription) Close() {
	s.bus.mu.Lock()
	stop := s.stop
	s.bus.dropLocked(s, nil)
	s.bus.mu.Unlock()
	if stop != nil {
		stop()
	}
}
