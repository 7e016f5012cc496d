package store

import (
	"context"
	"sync"
	"time"

	"github.com/rpg-archivist/archivist"
)

// subChanSize is the channel buffer of a subscription. A subscriber that
// lets it fill is not dropped at once: it is fed from the ring by a
// goroutine of its own until it catches up, and dropped only when it falls
// further behind than the bus allows (Options.SubscriberBuffer).
const subChanSize = 64

// bus is the in-process event feed: a ring of recent events, shared by every
// subscriber, for catch-up and for subscribers that fall behind. Publishing
// never blocks: an event goes straight into each subscriber's channel while
// it has room; a subscriber whose channel is full gets the rest from the
// ring (a pump goroutine that ends once it has caught up), and is dropped
// with ErrSlowSubscriber when it lags by more than lagLimit events.
//
// So a subscription costs a small channel, not a buffer of SubscriberBuffer
// events, however many there are.
type bus struct {
	mu       sync.Mutex
	ring     []archivist.Event
	pos      uint64 // events ever published; the next goes to ring[pos%len]
	last     uint64 // Seq of the newest event
	subs     map[*subscription]struct{}
	lagLimit uint64
	closed   bool
}

func newBus(ringSize, lagLimit int) *bus {
	// The ring must hold every event a subscriber may lag behind.
	size := max(ringSize, lagLimit+subChanSize)
	return &bus{ring: make([]archivist.Event, size), subs: map[*subscription]struct{}{}, lagLimit: uint64(lagLimit)}
}

// publish appends events (in Seq order) and hands them to subscribers.
// Events the bus has already (Seq up to its last) are left out: the Redis
// store publishes its own events as soon as it wrote them (publishNext),
// and its reader meets them again in the stream.
func (b *bus) publish(evs []archivist.Event) {
	if len(evs) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.publishLocked(evs)
}

// publishNext publishes evs if they follow the last event without a gap,
// and reports whether it did.
func (b *bus) publishNext(evs []archivist.Event) bool {
	if len(evs) == 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || evs[0].Seq != b.last+1 {
		return false
	}
	b.publishLocked(evs)
	return true
}

func (b *bus) publishLocked(evs []archivist.Event) {
	size := uint64(len(b.ring))
	for _, ev := range evs {
		if ev.Seq <= b.last {
			continue
		}
		b.ring[b.pos%size] = ev
		b.pos++
		b.last = ev.Seq
		for s := range b.subs {
			if s.behind {
				if b.pos-s.cursor > b.lagLimit {
					b.dropLocked(s, archivist.ErrSlowSubscriber)
				}
				continue
			}
			select {
			case s.ch <- ev:
			default:
				// Full: deliver from the ring from this event on.
				s.behind, s.cursor = true, b.pos-1
				b.startPumpLocked(s)
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

// timeOf is the Time of the event with Seq seq, when the bus keeps it and
// the events after it in the ring follow without a gap (as they do but
// after a rewind): it looks at one position, not through the ring.
func (b *bus) timeOf(seq uint64) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if seq > b.last || b.last-seq >= b.keptLocked() {
		return time.Time{}, false
	}
	ev := b.eventAtLocked(b.pos - 1 - (b.last - seq))
	if ev.Seq != seq {
		return time.Time{}, false
	}
	return ev.Time, true
}

// keptLocked is how many events the ring holds.
func (b *bus) keptLocked() uint64 { return min(b.pos, uint64(len(b.ring))) }

// eventAtLocked is the event at ring position p (one of the kept ones).
func (b *bus) eventAtLocked(p uint64) archivist.Event { return b.ring[p%uint64(len(b.ring))] }

// firstAfterLocked is the ring position of the oldest kept event with Seq
// > after (b.pos when there is none).
func (b *bus) firstAfterLocked(after uint64) uint64 {
	p := b.pos - b.keptLocked()
	for p < b.pos && b.eventAtLocked(p).Seq <= after {
		p++
	}
	return p
}

// covers reports whether the bus keeps every event it published after
// after (or published none after it).
func (b *bus) covers(after uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.keptLocked() == 0 {
		return b.last == after
	}
	return b.eventAtLocked(b.pos-b.keptLocked()).Seq <= after+1
}

func (b *bus) subscribe(ctx context.Context, after uint64) (archivist.Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, archivist.Errorf(archivist.CodeUnavailable, "the store is closed")
	}
	s := &subscription{bus: b, ch: make(chan archivist.Event, subChanSize), done: make(chan struct{})}
	if after > 0 && after < b.last {
		// Replay what the ring keeps after after, then go live.
		if p := b.firstAfterLocked(after); p < b.pos {
			s.behind, s.cursor = true, p
			b.startPumpLocked(s)
		}
	}
	b.subs[s] = struct{}{}
	s.stop = context.AfterFunc(ctx, s.Close)
	return s, nil
}

// startPumpLocked feeds s from the ring until it has caught up.
func (b *bus) startPumpLocked(s *subscription) {
	if s.pumping {
		return
	}
	s.pumping = true
	go b.pump(s)
}

// pump delivers the events from s.cursor on, in order, until s has every
// published event (then publish feeds it directly again) or is dropped.
// While it runs, it alone closes s.ch.
func (b *bus) pump(s *subscription) {
	const chunk = 64
	var buf []archivist.Event
	for {
		b.mu.Lock()
		if s.dropped {
			s.pumping = false
			close(s.ch)
			b.mu.Unlock()
			return
		}
		if s.cursor == b.pos {
			s.behind, s.pumping = false, false
			b.mu.Unlock()
			return
		}
		if b.pos-s.cursor > b.keptLocked() {
			// Overwritten before it was delivered.
			b.dropLocked(s, archivist.ErrSlowSubscriber)
			b.mu.Unlock()
			continue
		}
		buf = buf[:0]
		for p := s.cursor; p < b.pos && len(buf) < chunk; p++ {
			buf = append(buf, b.eventAtLocked(p))
		}
		b.mu.Unlock()
		sent := 0
	send:
		for _, ev := range buf {
			select {
			case s.ch <- ev:
				sent++
			case <-s.done:
				break send
			}
		}
		b.mu.Lock()
		s.cursor += uint64(sent)
		b.mu.Unlock()
	}
}

// dropLocked ends s with err (nil: closed by its owner).
func (b *bus) dropLocked(s *subscription, err error) {
	if s.dropped {
		return
	}
	s.dropped = true
	delete(b.subs, s)
	s.err = err
	close(s.done)
	if !s.pumping {
		close(s.ch)
	}
}

func (b *bus) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		b.dropLocked(s, nil)
	}
}

// subscription is one subscriber of a bus; its state is guarded by the
// bus's mutex.
type subscription struct {
	bus  *bus
	ch   chan archivist.Event
	done chan struct{} // closed when dropped
	err  error
	stop func() bool

	behind  bool   // fed from the ring, not by publish
	cursor  uint64 // ring position of the next event to deliver, while behind
	pumping bool
	dropped bool
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
