package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ms   int
		want string
	}{
		{0, `{"sleptMs":0}`},
		{30, `{"sleptMs":30}`},
	}
	for _, tt := range tests {
		start := time.Now()
		got, err := SleepHandler{}.Handle(context.Background(), newJob(`{"ms": `+itoa(tt.ms)+`}`, 1, nil))
		if err != nil {
			t.Fatalf("ms=%d: %v", tt.ms, err)
		}
		if string(got) != tt.want {
			t.Errorf("ms=%d: result %s, want %s", tt.ms, got, tt.want)
		}
		if elapsed := time.Since(start); elapsed < time.Duration(tt.ms)*time.Millisecond {
			t.Errorf("ms=%d: returned after %s", tt.ms, elapsed)
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestSleepEnds checks that a long sleep ends promptly with ctx.Err() when its
// context is cancelled or times out, whether before or during the sleep.
func TestSleepEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ms      []string
		ctx     func() (context.Context, context.CancelFunc)
		wantErr error
	}{
		{"cancelled during", []string{"3600000"}, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"cancelled before", []string{"0", "3600000"}, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
		{"timed out during", []string{"3600000"}, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, context.DeadlineExceeded},
		{"timed out before", []string{"0", "3600000"}, func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := tt.ctx()
			defer cancel()
			for _, ms := range tt.ms {
				errc := make(chan error, 1)
				go func() {
					_, err := SleepHandler{}.Handle(ctx, newJob(`{"ms": `+ms+`}`, 1, nil))
					errc <- err
				}()
				select {
				case err := <-errc:
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("ms=%s: Handle = %v, want %v", ms, err, tt.wantErr)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("ms=%s: Handle still sleeping 5s after its context ended", ms)
				}
			}
		})
	}
}

func TestSleepReportInterval(t *testing.T) {
	t.Parallel()
	tests := []struct{ total, want time.Duration }{
		{0, 0},
		{100 * time.Millisecond, 0},
		{250 * time.Millisecond, 0},
		{time.Second, 250 * time.Millisecond},
		{2500 * time.Millisecond, 250 * time.Millisecond},
		{10 * time.Second, time.Second},
		{24 * time.Hour, 144 * time.Minute},
	}
	for _, tt := range tests {
		if got := sleepReportInterval(tt.total); got != tt.want {
			t.Errorf("sleepReportInterval(%s) = %s, want %s", tt.total, got, tt.want)
		}
	}
}

func TestSleepProgress(t *testing.T) {
	t.Parallel()
	var progress progressLog
	if _, err := (SleepHandler{}).Handle(context.Background(), newJob(`{"ms": 700}`, 1, &progress)); err != nil {
		t.Fatal(err)
	}
	// Every 250ms of 700: at 250 and 500, give or take a slow tick.
	got := progress.fractions()
	if len(got) < 1 || len(got) > 2 {
		t.Fatalf("reported progress %v times; want 1 or 2 reports", got)
	}
	for i, f := range got {
		if f <= 0 || f >= 1 || (i > 0 && f <= got[i-1]) {
			t.Fatalf("progress %v is not increasing within (0, 1)", got)
		}
	}
}

func TestSleepShortReportsNothing(t *testing.T) {
	t.Parallel()
	var progress progressLog
	if _, err := (SleepHandler{}).Handle(context.Background(), newJob(`{"ms": 200}`, 1, &progress)); err != nil {
		t.Fatal(err)
	}
	if got := progress.fractions(); len(got) != 0 {
		t.Fatalf("a 200ms sleep reported progress %v", got)
	}
}
