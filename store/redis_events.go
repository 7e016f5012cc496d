package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist"
)

// Events of the Redis store: every transition script appends its events to
// one stream (entry id "<Seq>-0"). Each store instance runs one reader that
// tails the stream with XREAD BLOCK, decodes every event once and publishes
// it into the in-process bus, which all local subscribers share. A
// subscription that starts further back than the bus keeps is first fed
// from the stream (XRANGE) and then from the bus, without a gap or a
// repeat.
const (
	redisReadBlock     = 2 * time.Second
	redisReadCount     = 512
	redisReadMinPause  = 50 * time.Millisecond
	redisReadMaxPause  = 5 * time.Second
	redisCatchUpBuffer = 64
)

// readLoop tails the stream from the event after from until ctx ends. When
// Redis is unreachable it retries with backoff and resumes where it was,
// logging the outage once.
func (r *Redis) readLoop(ctx context.Context, from uint64) {
	defer close(r.readerDone)
	key := r.keys.key(redisKeyEvents)
	last := from
	pause := redisReadMinPause
	var down time.Time // when the outage began; zero while reachable
	for ctx.Err() == nil {
		streams, err := r.reader.XRead(ctx, &redis.XReadArgs{
			Streams: []string{key, entryID(last)}, Count: redisReadCount, Block: redisReadBlock,
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			if ctx.Err() != nil {
				return
			}
			if down.IsZero() {
				down = time.Now()
				r.log.Warn("redis store: cannot read the event stream; retrying", "cluster", r.Cluster(),
					"after_seq", last, "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, redisReadMaxPause)
			continue
		}
		if !down.IsZero() {
			r.log.Info("redis store: event stream readable again; catching up", "cluster", r.Cluster(),
				"after_seq", last, "outage", time.Since(down).Round(time.Millisecond))
			down, pause = time.Time{}, redisReadMinPause
			last = r.checkRewind(ctx, last)
		}
		if len(streams) == 0 || len(streams[0].Messages) == 0 {
			continue
		}
		msgs := streams[0].Messages
		evs := make([]archivist.Event, 0, len(msgs))
		for _, m := range msgs {
			ev, err := decodeEvent(m.ID, m.Values)
			if err != nil {
				r.log.Error("redis store: skipping an event that does not decode", "cluster", r.Cluster(), "id", m.ID, "err", err)
				if seq, err := entrySeq(m.ID); err == nil {
					last = seq
				}
				continue
			}
			evs = append(evs, ev)
			last = ev.Seq
		}
		r.bus.publish(evs)
	}
}

// checkRewind handles a server that came back with an older event counter
// than the reader had seen (its data was lost): it logs that and reads on
// from the server's counter, since waiting for Seqs past last would wait
// for ever.
func (r *Redis) checkRewind(ctx context.Context, last uint64) uint64 {
	cur, err := r.reader.Get(ctx, r.keys.key(redisKeyEventSeq)).Uint64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return last // the next XREAD fails or succeeds on its own
	}
	if cur < last {
		r.log.Error("redis store: the event sequence went back (data lost on the server?); following the server",
			"cluster", r.Cluster(), "had", last, "server", cur)
		return cur
	}
	return last
}

// readRange reads the events with Seq from from to to (0: to the newest),
// at most count of them.
func (r *Redis) readRange(ctx context.Context, from, to uint64, count int64) ([]archivist.Event, error) {
	end := "+"
	if to != 0 {
		end = entryID(to)
	}
	msgs, err := r.client.XRangeN(ctx, r.keys.key(redisKeyEvents), entryID(from), end, count).Result()
	if err != nil {
		return nil, r.mapErr("read events", err)
	}
	out := make([]archivist.Event, 0, len(msgs))
	for _, m := range msgs {
		ev, err := decodeEvent(m.ID, m.Values)
		if err != nil {
			return nil, fmt.Errorf("redis store: %w", err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// Subscribe returns the events after after. With after 0 it starts at
// LastSeq: after every event this instance has written itself or received
// from the stream (events other nodes wrote a moment ago that it has not
// read yet count as new). It uses the shared bus directly when the bus has
// reached after and still holds everything past it; otherwise it feeds the
// subscription from the stream first.
func (r *Redis) Subscribe(ctx context.Context, after uint64) (archivist.Subscription, error) {
	if err := r.read(); err != nil {
		return nil, err
	}
	if after == 0 {
		after, _ = r.LastSeq(ctx)
		if after == 0 {
			return r.bus.subscribe(ctx, 0) // no event yet: every one is new
		}
	}
	// reached can only turn true over time (the bus's last Seq grows) and
	// covers only false (its oldest kept event grows): reached checked
	// before subscribing and covers after both held when it subscribed, so
	// its backlog is exact.
	reached := r.bus.lastSeq() >= after
	sub, err := r.bus.subscribe(ctx, after)
	if err != nil {
		return nil, err
	}
	inner := sub.(*subscription)
	if reached && r.bus.covers(after) {
		return inner, nil
	}
	c := &catchUp{r: r, inner: inner, ch: make(chan archivist.Event, redisCatchUpBuffer), stop: make(chan struct{})}
	stop := context.AfterFunc(ctx, c.Close)
	c.mu.Lock()
	c.stopCtx = stop
	c.mu.Unlock()
	go c.run(ctx, after)
	return c, nil
}

// covers reports whether the bus keeps every event it published after
// after (or published none after it).
func (b *bus) covers(after uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.full:
		return b.ring[b.next].Seq <= after+1
	case b.next > 0:
		return b.ring[0].Seq <= after+1
	}
	return b.last == after
}

// catchUp is a subscription fed from the stream until it reaches what the
// bus delivers; it drops what the bus repeats and fills any gap from the
// stream.
type catchUp struct {
	r     *Redis
	inner *subscription
	ch    chan archivist.Event
	stop  chan struct{}
	once  sync.Once

	mu      sync.Mutex
	stopCtx func() bool // unregisters Close from the context
	err     error
}

func (c *catchUp) C() <-chan archivist.Event { return c.ch }

func (c *catchUp) Err() error {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.inner.Err()
}

func (c *catchUp) Close() {
	c.once.Do(func() {
		close(c.stop)
		c.inner.Close()
	})
	c.mu.Lock()
	stop := c.stopCtx
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func (c *catchUp) setErr(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

func (c *catchUp) run(ctx context.Context, after uint64) {
	defer close(c.ch)
	defer c.inner.Close()
	next := after + 1
	send := func(ev archivist.Event) bool {
		select {
		case c.ch <- ev:
			next = ev.Seq + 1
			return true
		case <-c.stop:
			return false
		}
	}
	// fill delivers the stream's events from next up to to (0: the newest).
	fill := func(to uint64) bool {
		for to == 0 || next <= to {
			evs, err := c.r.readRange(ctx, next, to, redisReadCount)
			if err != nil {
				if ctx.Err() == nil {
					c.setErr(err)
				}
				return false
			}
			for _, ev := range evs {
				if ev.Seq >= next && !send(ev) {
					return false
				}
			}
			if len(evs) < redisReadCount {
				return true
			}
		}
		return true
	}
	// Replay up to the newest event now; the bus delivers the rest.
	newest, err := c.r.eventCounter(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.setErr(err)
		}
		return
	}
	if newest >= next && !fill(newest) {
		return
	}
	for {
		select {
		case ev, ok := <-c.inner.ch:
			if !ok {
				c.setErr(c.inner.Err())
				return
			}
			if ev.Seq < next {
				continue // replayed already
			}
			if ev.Seq > next && !fill(ev.Seq-1) {
				return
			}
			if !send(ev) {
				return
			}
		case <-c.stop:
			return
		}
	}
}
