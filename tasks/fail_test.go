package tasks

import (
	"context"
	"fmt"
	"testing"

	archivist "github.com/rpg-archivist/archivist"
)

// TestFail runs attempts 1, 2, ... until one succeeds and checks which
// attempts failed, with which errors.
func TestFail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		input     string
		failures  int
		permanent bool
		message   string // of the first failure
	}{
		{`{"times": 0}`, 0, false, ""},
		{`{"times": 1}`, 1, false, "fail: attempt 1 of 1 planned failures"},
		{`{"times": 3}`, 3, false, "fail: attempt 1 of 3 planned failures"},
		{`{"times": 2, "message": "disk on fire"}`, 2, false, "disk on fire"},
		{`{"times": 2, "permanent": true}`, 2, true, "fail: attempt 1 of 2 planned failures"},
		{`{"times": 1, "permanent": false}`, 1, false, "fail: attempt 1 of 1 planned failures"},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			for attempt := 1; ; attempt++ {
				res, err := FailHandler{}.Handle(context.Background(), newJob(tt.input, attempt, nil))
				if attempt > tt.failures {
					if err != nil {
						t.Fatalf("attempt %d: %v, want success", attempt, err)
					}
					if want := fmt.Sprintf(`{"attempts":%d}`, attempt); string(res) != want {
						t.Fatalf("attempt %d: result %s, want %s", attempt, res, want)
					}
					return
				}
				if err == nil {
					t.Fatalf("attempt %d succeeded with %s, want a failure", attempt, res)
				}
				if archivist.IsPermanent(err) != tt.permanent {
					t.Errorf("attempt %d: IsPermanent = %v, want %v", attempt, !tt.permanent, tt.permanent)
				}
				if attempt == 1 && err.Error() != tt.message {
					t.Errorf("attempt 1: error %q, want %q", err, tt.message)
				}
			}
		})
	}
}

func TestFailAttemptZeroIsFirst(t *testing.T) {
	t.Parallel()
	_, err := FailHandler{}.Handle(context.Background(), newJob(`{"times": 1}`, 0, nil))
	if err == nil || err.Error() != "fail: attempt 1 of 1 planned failures" {
		t.Fatalf("Handle = %v, want the first planned failure", err)
	}
}

func TestFailPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		input   string
		attempt int
		want    any // the panic value, nil for no panic
	}{
		{`{"times": 2, "panic": true}`, 1, "fail: attempt 1 of 2 planned failures"},
		{`{"times": 2, "panic": true, "message": "kaboom"}`, 2, "kaboom"},
		{`{"times": 2, "panic": true, "permanent": true}`, 2, "fail: attempt 2 of 2 planned failures"},
		{`{"times": 2, "panic": true}`, 3, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s attempt %d", tt.input, tt.attempt), func(t *testing.T) {
			var got any
			func() {
				defer func() { got = recover() }()
				_, _ = FailHandler{}.Handle(context.Background(), newJob(tt.input, tt.attempt, nil))
			}()
			if got != tt.want {
				t.Fatalf("panicked with %v, want %v", got, tt.want)
			}
		})
	}
}
