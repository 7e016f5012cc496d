package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist"
)

// Events of the Redis store: every transition script appends its events to
// one stream, as one entry per script call whose id is "<Seq of its last
// event>-0" (see decodeEntry). Each store instance runs one reader that
// tails the stream with XREAD BLOCK, decodes every event once and publishes
// it into the in-process bus, which all local subscribers share. A
// subscription that starts further back than the bus keeps is first fed
// from the stream (XRANGE) and then from the bus, without a gap or a
// repeat.
const (
	redisReadBlock    = 2 * time.Second
	redisReadCount    = 512
	redisReadMinPause = 50 * time.Millisecond
	redisReadMaxPause = 500 * time.Millisecond
	// redisReadGrace is how long past its BLOCK time a read may wait for
	// its answer before the reader gives up on the connection: a server
	// that went silent (a host gone, a network cut) would otherwise hold
	// the read for go-redis's BLOCK+10s. The reader's client honours the
	// deadline (ContextTimeoutEnabled).
	redisReadGrace     = time.Second
	redisCatchUpBuffer = 64
	// redisReadEvery: after a read that returned entries, the next one
	// waits until this long after it. At a high event rate every read
	// would return an entry or two and cost Redis a blocked client and a
	// round trip; so each returns what came meanwhile. At a low rate the
	// next entry comes later than this anyway, and waits for nothing. The
	// events a node's own transitions record reach its subscribers from
	// the calls' replies (evalEvents), without waiting for the reader; one
	// whose events follow some not read yet has the reader read at once.
	redisReadEvery = 500 * time.Microsecond
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
	var downLevel slog.Level
	conns := r.readerConns.Load()
	var lastRead time.Time // when the last read that returned entries did
	pace := time.NewTimer(0)
	defer pace.Stop()
	for ctx.Err() == nil {
		if wait := redisReadEvery - time.Since(lastRead); wait > 0 {
			pace.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-pace.C:
			case <-r.readNow:
			}
		}
		readCtx, cancel := context.WithTimeout(ctx, redisReadBlock+redisReadGrace)
		streams, err := r.reader.XRead(readCtx, &redis.XReadArgs{
			Streams: []string{key, entryID(last)}, Count: redisReadCount, Block: redisReadBlock,
		}).Result()
		cancel()
		if err != nil && !errors.Is(err, redis.Nil) {
			if ctx.Err() != nil {
				return
			}
			if down.IsZero() {
				down = time.Now()
				// Redis gone is logged once by the store (reachability):
				// this line only matters when debugging.
				downLevel = slog.LevelWarn
				if archivist.IsCode(err, archivist.CodeUnavailable) {
					downLevel = slog.LevelDebug
				}
				r.log.Log(ctx, downLevel, "redis store: cannot read the event stream; retrying", "cluster", r.Cluster(),
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
		// A new connection may have found a new master (go-redis retries a
		// read on a new connection by itself, so the reader need not have
		// seen an error): check that the stream still holds what was read.
		reconnected := false
		if c := r.readerConns.Load(); c != conns {
			reconnected, conns = conns != 0, c
		}
		if !down.IsZero() || reconnected {
			if !down.IsZero() {
				r.log.Log(ctx, min(downLevel, slog.LevelInfo), "redis store: event stream readable again; catching up", "cluster", r.Cluster(),
					"after_seq", last, "outage", time.Since(down).Round(time.Millisecond))
			}
			down, pause = time.Time{}, redisReadMinPause
			if from := r.checkRewind(ctx, last); from != last {
				last = from
				continue // what this read returned follows the old last: read again
			}
		}
		if len(streams) == 0 || len(streams[0].Messages) == 0 {
			continue
		}
		lastRead = time.Now()
		msgs := streams[0].Messages
		var evs []archivist.Event
		for _, m := range msgs {
			seq, err := entrySeq(m.ID)
			reused := false
			if err == nil && seq <= r.bus.lastSeq() {
				if !r.seqReused(seq, m.Values) {
					last = seq // published already, as this instance wrote it
					continue
				}
				reused = true
			}
			got, bad, err := decodeEntry(m.ID, m.Values)
			if reused && len(got) > 0 {
				r.log.Error("redis store: the event sequence went back (data lost on the server?); following the server",
					"cluster", r.Cluster(), "had", r.bus.lastSeq(), "server", seq)
				r.bus.setLast(got[0].Seq - 1)
			}
			if err != nil {
				r.log.Error("redis store: skipping a stream entry that does not decode", "cluster", r.Cluster(), "id", m.ID, "err", err)
			}
			for seq, err := range bad {
				r.log.Error("redis store: skipping an event that does not decode", "cluster", r.Cluster(), "seq", seq, "err", err)
			}
			evs = append(evs, got...)
			if seq, err := entrySeq(m.ID); err == nil {
				last = seq
			}
		}
		r.bus.publish(evs)
	}
}

// seqReused reports whether the stream entry with Seq seq, which the bus
// has published already, is not the entry it published: the server lost
// events (a failover to a replica that had not received them, a restart
// that lost its last writes) and gave their Seqs to new ones. Entries are
// told apart by their time. An entry the bus no longer keeps counts as
// published.
func (r *Redis) seqReused(seq uint64, values map[string]any) bool {
	at, ok := entryTime(values)
	if !ok {
		return false
	}
	had, ok := r.bus.timeOf(seq)
	return ok && !had.Equal(at)
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
		r.bus.setLast(cur)
		return cur
	}
	// The counter may have gone back and past last again meanwhile (a
	// failover lost the last events, and new ones took their Seqs): read on
	// from the newest entry that is still the one the bus published.
	if common, ok := r.commonSeq(ctx, last); ok && common < last {
		r.log.Error("redis store: events were lost on the server and their Seqs reused; following the server",
			"cluster", r.Cluster(), "had", last, "same_up_to", common)
		r.bus.setLast(common)
		return common
	}
	return last
}

// redisRewindWindow is how many stream entries back from the last one read
// checkRewind compares with what the bus published.
const redisRewindWindow = 512

// commonSeq is the Seq of the newest stream entry at or before last that is
// the entry the bus published (same time), and whether it found one among
// the redisRewindWindow entries before last that the bus still keeps.
func (r *Redis) commonSeq(ctx context.Context, last uint64) (uint64, bool) {
	if last == 0 {
		return 0, false
	}
	// Mostly the entry at last is the one published: look at it alone
	// first, then at the window.
	var msgs []redis.XMessage
	for _, n := range []int64{1, redisRewindWindow} {
		var err error
		msgs, err = r.reader.XRevRangeN(ctx, r.keys.key(redisKeyEvents), entryID(last), "-", n).Result()
		if err != nil || len(msgs) == 0 {
			return 0, false
		}
		if at, ok := entryTime(msgs[0].Values); ok {
			if had, kept := r.bus.timeOf(last); kept && msgs[0].ID == entryID(last) && had.Equal(at) {
				return last, true
			}
		}
	}
	for _, m := range msgs {
		seq, err := entrySeq(m.ID)
		if err != nil {
			return 0, false
		}
		at, ok := entryTime(m.Values)
		had, kept := r.bus.timeOf(seq)
		if !ok || !kept {
			return 0, false
		}
		if had.Equal(at) {
			return seq, true
		}
	}
	return 0, false
}

// readRange reads the events with Seq from from to to (0: to the newest),
// from at most count stream entries. more reports that entries may follow.
func (r *Redis) readRange(ctx context.Context, from, to uint64, count int64) (evs []archivist.Event, more bool, err error) {
	// An entry's id is the Seq of its last event: the first entry with an
	// id of at least from holds from (or starts after it, when from was
	// trimmed).
	msgs, err := r.client.XRangeN(ctx, r.keys.key(redisKeyEvents), entryID(from), "+", count).Result()
	if err != nil {
		return nil, false, r.mapErr("read events", err)
	}
	for _, m := range msgs {
		got, bad, err := decodeEntry(m.ID, m.Values)
		if err != nil {
			return nil, false, fmt.Errorf("redis store: %w", err)
		}
		for seq, err := range bad {
			return nil, false, fmt.Errorf("redis store: event %d: %w", seq, err)
		}
		for _, ev := range got {
			if ev.Seq < from {
				continue
			}
			if to != 0 && ev.Seq > to {
				return evs, false, nil
			}
			evs = append(evs, ev)
		}
	}
	return evs, int64(len(msgs)) == count, nil
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
	if err := r.startReader(); err != nil {
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
			evs, more, err := c.r.readRange(ctx, next, to, redisReadCount)
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
			if !more {
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
