package lifecycle_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rpg-archivist/archivist/lifecycle"
)

// ticker is a part that counts its runs and ticks until stopped.
type ticker struct {
	lifecycle.Base
	runs, ticks atomic.Int32
	slowStop    time.Duration // how long the run takes to wind down
}

func (p *ticker) Start(ctx context.Context) error {
	return p.Base.Start(ctx, nil, func(ctx context.Context) {
		p.runs.Add(1)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				time.Sleep(p.slowStop)
				return
			case <-t.C:
				p.ticks.Add(1)
			}
		}
	})
}

func TestStartIsIdempotentAndRestartable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var p ticker
		select {
		case <-p.Stopped():
		default:
			t.Fatal("Stopped before the first Start should be closed")
		}
		started := p.Started()
		for range 3 {
			if err := p.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		<-started
		synctest.Wait()
		if got := p.runs.Load(); got != 1 {
			t.Fatalf("three Starts made %d runs, want 1", got)
		}
		time.Sleep(3*time.Second + time.Millisecond)
		if got := p.ticks.Load(); got != 3 {
			t.Fatalf("ticks = %d, want 3", got)
		}
		for range 2 {
			if err := p.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if p.Running() {
			t.Fatal("running after Stop")
		}
		<-p.Stopped()
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-p.Started()
		synctest.Wait()
		if got := p.runs.Load(); got != 2 {
			t.Fatalf("runs after a restart = %d, want 2", got)
		}
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRunOutlivesStartContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var p ticker
		ctx, cancel := context.WithCancel(context.Background())
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		time.Sleep(2*time.Second + time.Millisecond)
		if got := p.ticks.Load(); got != 2 {
			t.Fatalf("the run stopped with its Start context: ticks = %d", got)
		}
		_ = p.Stop(context.Background())
	})
}

func TestStopIsBoundedByItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ticker{slowStop: time.Minute}
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		begin := time.Now()
		err := p.Stop(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(begin) != time.Second {
			t.Fatalf("Stop = %v after %v, want a deadline error after 1s", err, time.Since(begin))
		}
		// Start waits for the run that is still winding down.
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if time.Since(begin) != time.Minute {
			t.Fatalf("Start came back after %v, before the previous run ended (1m)", time.Since(begin))
		}
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// A Start that gives up waiting for a run still winding down leaves that
// run the one Stop and Stopped wait for: a later Stop does not return, nor
// a later Start begin a second run, before it has ended.
func TestFailedStartKeepsWaitingForThePreviousRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ticker{slowStop: time.Minute}
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		expired, cancel := context.WithCancel(context.Background())
		cancel()
		begin := time.Now()
		if err := p.Stop(expired); !errors.Is(err, context.Canceled) {
			t.Fatalf("Stop = %v, want context.Canceled", err)
		}
		if err := p.Start(expired); !errors.Is(err, context.Canceled) {
			t.Fatalf("Start while the run winds down = %v, want context.Canceled", err)
		}
		select {
		case <-p.Stopped():
			t.Fatal("Stopped is closed while the first run still winds down")
		default:
		}
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if time.Since(begin) != time.Minute {
			t.Fatalf("Stop came back after %v, before the run ended (1m)", time.Since(begin))
		}
	})
}

func TestInitError(t *testing.T) {
	var b lifecycle.Base
	ran := false
	err := b.Start(context.Background(), func(context.Context) error { return errors.New("no store") },
		func(context.Context) { ran = true })
	if err == nil || err.Error() != "no store" || ran || b.Running() {
		t.Fatalf("Start = %v, ran %v, running %v", err, ran, b.Running())
	}
	if err := b.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// And it can be started after a failed Start.
	if err := b.Start(context.Background(), nil, func(ctx context.Context) { <-ctx.Done() }); err != nil {
		t.Fatal(err)
	}
	if !b.Running() {
		t.Fatal("not running")
	}
	if err := b.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStopDuringInit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b lifecycle.Base
		errc := make(chan error, 1)
		go func() {
			errc <- b.Start(context.Background(), func(ctx context.Context) error {
				<-ctx.Done()
				return context.Cause(ctx)
			}, func(context.Context) { t.Error("ran after Stop") })
		}()
		synctest.Wait()
		if err := b.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, lifecycle.ErrStopped) {
			t.Fatalf("Start = %v, want ErrStopped", err)
		}
	})
}

type step struct {
	name string
	log  *[]string
	fail bool
}

func (s step) Start(context.Context) error {
	if s.fail {
		return errors.New("refused")
	}
	*s.log = append(*s.log, "start "+s.name)
	return nil
}

func (s step) Stop(context.Context) error {
	*s.log = append(*s.log, "stop "+s.name)
	if s.name == "b" {
		return errors.New("stuck")
	}
	return nil
}

func TestGroupOrder(t *testing.T) {
	var log []string
	var g lifecycle.Group
	for _, n := range []string{"a", "b", "c"} {
		g.Add(n, step{name: n, log: &log})
	}
	g.Add("d", step{name: "d", log: &log, fail: true})
	err := g.Start(context.Background())
	if err == nil || err.Error() != "start d: refused" {
		t.Fatalf("Start = %v", err)
	}
	err = g.Stop(context.Background())
	if err == nil || err.Error() != "stop b: stuck" {
		t.Fatalf("Stop = %v", err)
	}
	if err := g.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop = %v", err)
	}
	if got, want := strings.Join(log, ","), "start a,start b,start c,stop c,stop b,stop a"; got != want {
		t.Fatalf("order %s, want %s", got, want)
	}
}

func TestEnvDefaults(t *testing.T) {
	e := lifecycle.Env{}.WithDefaults()
	if e.Logger == nil || e.Now == nil {
		t.Fatal("defaults not filled")
	}
	e.Logger.Info("goes nowhere")
	now := time.Unix(5, 0)
	if got := (lifecycle.Env{Now: func() time.Time { return now }}).WithDefaults().Now(); !got.Equal(now) {
		t.Fatal("a given Now was replaced")
	}
}
