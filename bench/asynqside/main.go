// Command asynqside is the asynq half of Archivist's benchmark (make bench).
// It lives in its own Go module so that the main module never depends on
// asynq. The benchmark driver (../) starts it once per scenario run and talks
// to it in JSON lines: the driver sends a command on stdin, asynqside answers
// {"event":"ready"} when set up, waits for "go", runs, and answers with one
// result line. The driver measures the Redis server (INFO) and this process
// (/proc) around the run.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// command is what the driver asks for.
type command struct {
	Op          string `json:"op"` // drain, steady, enqueue, idle
	Redis       string `json:"redis"`
	N           int    `json:"n"`           // drain: tasks
	Concurrency int    `json:"concurrency"` // server concurrency
	Rate        int    `json:"rate"`        // steady: tasks/s offered
	DurationMS  int    `json:"durationMs"`  // steady, enqueue
	CheckMS     int    `json:"checkMs"`     // steady: TaskCheckInterval (0: asynq's default)
	Senders     int    `json:"senders"`     // enqueue goroutines
}

// result is what asynqside answers.
type result struct {
	Event string `json:"event"`
	Error string `json:"error,omitempty"`
	// drain
	FirstStartNS int64 `json:"firstStartNs,omitempty"`
	DoneNS       int64 `json:"doneNs,omitempty"`
	Handled      int64 `json:"handled,omitempty"`
	// steady: latencies in microseconds
	StartUS []int64 `json:"startUs,omitempty"`
	DoneUS  []int64 `json:"doneUs,omitempty"`
	Offered int     `json:"offered,omitempty"`
	// enqueue
	Enqueued int64   `json:"enqueued,omitempty"`
	Seconds  float64 `json:"seconds,omitempty"`
}

var out = json.NewEncoder(os.Stdout)

func main() {
	log.SetOutput(os.Stderr)
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() {
		return
	}
	var c command
	if err := json.Unmarshal(in.Bytes(), &c); err != nil {
		fail(err)
	}
	waitGo := func() {
		if !in.Scan() || in.Text() != "go" {
			fail(fmt.Errorf("expected go"))
		}
	}
	var err error
	switch c.Op {
	case "drain":
		err = drain(c, waitGo)
	case "steady":
		err = steady(c, waitGo)
	case "enqueue":
		err = enqueueRate(c, waitGo)
	case "idle":
		// A server with nothing to do, until stdin closes.
		srv := newServer(c, 0, asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil }))
		say(result{Event: "ready"})
		for in.Scan() {
		}
		srv.Shutdown()
	default:
		err = fmt.Errorf("unknown op %q", c.Op)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	_ = out.Encode(result{Event: "error", Error: err.Error()})
	os.Exit(1)
}

func say(r result) {
	if err := out.Encode(r); err != nil {
		log.Fatal(err)
	}
}

func newServer(c command, check time.Duration, h asynq.Handler) *asynq.Server {
	srv := asynq.NewServer(asynq.RedisClientOpt{Addr: c.Redis}, asynq.Config{
		Concurrency:       c.Concurrency,
		TaskCheckInterval: check,
		LogLevel:          asynq.WarnLevel,
	})
	if err := srv.Start(h); err != nil {
		fail(err)
	}
	return srv
}

// enqueueN enqueues n no-op tasks with 8 goroutines.
func enqueueN(client *asynq.Client, n int) error {
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				if _, err := client.Enqueue(asynq.NewTask("noop", []byte(`{}`))); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return err
	}
	return nil
}

// drain enqueues n tasks, then on "go" starts one server and reports when
// the queue is empty: no pending and no active task left.
func drain(c command, waitGo func()) error {
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: c.Redis})
	defer client.Close()
	if err := enqueueN(client, c.N); err != nil {
		return err
	}
	rdb := redis.NewClient(&redis.Options{Addr: c.Redis})
	defer rdb.Close()
	say(result{Event: "ready"})
	waitGo()
	var first atomic.Int64
	var handled atomic.Int64
	srv := newServer(c, 0, asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		if first.Load() == 0 {
			first.CompareAndSwap(0, time.Now().UnixNano())
		}
		handled.Add(1)
		return nil
	}))
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		pipe := rdb.Pipeline()
		p := pipe.LLen(ctx, "asynq:{default}:pending")
		a := pipe.LLen(ctx, "asynq:{default}:active")
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		if p.Val() == 0 && a.Val() == 0 && handled.Load() >= int64(c.N) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("drain not done after 5m: %d handled", handled.Load())
		}
		time.Sleep(2 * time.Millisecond)
	}
	done := time.Now().UnixNano()
	say(result{Event: "done", FirstStartNS: first.Load(), DoneNS: done, Handled: handled.Load()})
	srv.Shutdown()
	return nil
}

// steady starts a server, then on "go" offers rate tasks/s for the
// duration and reports each task's enqueue-to-start and enqueue-to-end
// (handler returned) latency. The payload carries the enqueue time.
func steady(c command, waitGo func()) error {
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: c.Redis})
	defer client.Close()
	total := c.Rate * c.DurationMS / 1000
	startUS := make([]int64, total)
	doneUS := make([]int64, total)
	var handled atomic.Int64
	srv := newServer(c, time.Duration(c.CheckMS)*time.Millisecond, asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		now := time.Now()
		p := t.Payload()
		if len(p) != 16 {
			return fmt.Errorf("bad payload")
		}
		i := binary.BigEndian.Uint64(p[:8])
		at := time.Unix(0, int64(binary.BigEndian.Uint64(p[8:])))
		startUS[i] = now.Sub(at).Microseconds()
		doneUS[i] = time.Since(at).Microseconds()
		handled.Add(1)
		return nil
	}))
	defer srv.Shutdown()
	// Let the server settle into its idle loop, as a server does between
	// bursts.
	time.Sleep(1500 * time.Millisecond)
	say(result{Event: "ready"})
	waitGo()
	senders := max(c.Senders, 1)
	begin := time.Now()
	interval := time.Duration(int64(time.Second) * int64(senders) / int64(c.Rate))
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for s := range senders {
		wg.Go(func() {
			for k := 0; ; k++ {
				i := k*senders + s
				if i >= total {
					return
				}
				due := begin.Add(time.Duration(k)*interval + time.Duration(s)*interval/time.Duration(senders))
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
				var p [16]byte
				binary.BigEndian.PutUint64(p[:8], uint64(i))
				binary.BigEndian.PutUint64(p[8:], uint64(time.Now().UnixNano()))
				if _, err := client.Enqueue(asynq.NewTask("noop", p[:])); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for handled.Load() < int64(total) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	n := int(handled.Load())
	s, d := startUS[:0:0], doneUS[:0:0]
	for i := range total {
		if startUS[i] != 0 || doneUS[i] != 0 {
			s, d = append(s, startUS[i]), append(d, doneUS[i])
		}
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	say(result{Event: "done", StartUS: s, DoneUS: d, Offered: total, Handled: int64(n)})
	return nil
}

// enqueueRate enqueues as fast as senders goroutines can for the duration.
func enqueueRate(c command, waitGo func()) error {
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: c.Redis})
	defer client.Close()
	say(result{Event: "ready"})
	waitGo()
	var n atomic.Int64
	var firstErr atomic.Value
	stop := time.Now().Add(time.Duration(c.DurationMS) * time.Millisecond)
	begin := time.Now()
	var wg sync.WaitGroup
	for range max(c.Senders, 1) {
		wg.Go(func() {
			for time.Now().Before(stop) {
				if _, err := client.Enqueue(asynq.NewTask("noop", []byte(`{}`))); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return err
	}
	say(result{Event: "done", Enqueued: n.Load(), Seconds: time.Since(begin).Seconds()})
	return nil
}
