package workerpool

import (
	"sync"
	"time"
)

// minProgressInterval spaces out progress writes of one attempt; reports in
// between are coalesced to the newest.
const minProgressInterval = 100 * time.Millisecond

// progress forwards a handler's progress reports to the store without ever
// blocking the handler: at most one write is in flight, and the newest
// report wins.
type progress struct {
	send func(float64, string)

	mu       sync.Mutex
	pending  bool
	fraction float64
	message  string
	flushing bool
	closed   bool
	stop     chan struct{} // closed by close: cuts the spacing short
	idle     *sync.Cond
}

func newProgress(send func(float64, string)) *progress {
	p := &progress{send: send, stop: make(chan struct{})}
	p.idle = sync.NewCond(&p.mu)
	return p
}

func (p *progress) report(fraction float64, message string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.pending, p.fraction, p.message = true, fraction, message
	if !p.flushing {
		p.flushing = true
		go p.flush()
	}
}

func (p *progress) flush() {
	for {
		p.mu.Lock()
		if !p.pending {
			p.flushing = false
			p.idle.Broadcast()
			p.mu.Unlock()
			return
		}
		f, m := p.fraction, p.message
		p.pending = false
		p.mu.Unlock()
		p.send(f, m)
		t := time.NewTimer(minProgressInterval)
		select {
		case <-t.C:
		case <-p.stop:
			t.Stop()
		}
	}
}

// close drops further reports and waits for a write in flight, so that no
// progress write lands after the attempt's outcome.
func (p *progress) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		close(p.stop)
	}
	p.closed = true
	p.pending = false
	for p.flushing {
		p.idle.Wait()
	}
}
