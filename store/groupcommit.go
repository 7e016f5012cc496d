package store

import "sync"

// groupCommit queues requests and sends them in batches: a request that
// finds fewer than maxFlushers flushers running starts one, and a flusher
// sends what is queued, batch after batch (batchLen says how many of the
// queue's head make the next one), until the queue is empty. With one
// caller a request goes at once; with many, they share round trips instead
// of queueing for them. The reporter and the creator (Redis) use it.
type groupCommit[R any] struct {
	maxFlushers int
	batchLen    func(queue []R) int // at least 1
	send        func(batch []R)

	mu       sync.Mutex
	queue    []R
	flushers int
}

// add queues r, starting a flusher if there is room for one.
func (g *groupCommit[R]) add(r R) {
	g.mu.Lock()
	g.queue = append(g.queue, r)
	start := g.flushers < g.maxFlushers
	if start {
		g.flushers++
	}
	g.mu.Unlock()
	if start {
		go g.flush()
	}
}

func (g *groupCommit[R]) flush() {
	for {
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.flushers--
			g.mu.Unlock()
			return
		}
		n := min(max(1, g.batchLen(g.queue)), len(g.queue))
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		if len(g.queue) == 0 {
			g.queue = nil
		}
		g.mu.Unlock()
		g.send(batch)
	}
}
