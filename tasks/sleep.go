package tasks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	archivist "github.com/rpg-archivist/archivist"
)

// MaxSleepMs is the longest "sleep" allowed: one day, the longest timeout a
// task may have.
const MaxSleepMs = 86_400_000

// Progress of a long sleep is reported every tenth of its length, but never
// more often than sleepMinReport.
const sleepMinReport = 250 * time.Millisecond

// SleepHandler runs "sleep": input {"ms": N}, result {"sleptMs": N}.
type SleepHandler struct{}

type sleepInput struct{ ms int64 }

func parseSleepInput(input json.RawMessage) (sleepInput, error) {
	f, err := decodeFields(input, `{"ms": 1000}`, "ms")
	if err != nil {
		return sleepInput{}, err
	}
	ms, ok, err := f.int("ms", 0, MaxSleepMs)
	if err != nil {
		return sleepInput{}, err
	}
	if !ok {
		return sleepInput{}, fmt.Errorf("ms is required: how long to sleep, in milliseconds (0 to %d)", MaxSleepMs)
	}
	return sleepInput{ms: ms}, nil
}

// ValidateInput checks that input is {"ms": N} with N an integer from 0 to
// MaxSleepMs.
func (SleepHandler) ValidateInput(input json.RawMessage) error {
	_, err := parseSleepInput(input)
	return err
}

// Handle sleeps for the requested time, or until ctx ends, when it returns
// ctx.Err().
func (SleepHandler) Handle(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
	in, err := parseSleepInput(job.Task.Input)
	if err != nil {
		return nil, archivist.Permanent(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	total := time.Duration(in.ms) * time.Millisecond
	start := time.Now()
	done := time.NewTimer(total)
	defer done.Stop()
	// A nil channel never fires: short sleeps report no progress.
	var tick <-chan time.Time
	if every := sleepReportInterval(total); every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-done.C:
			return json.Marshal(struct {
				SleptMs int64 `json:"sleptMs"`
			}{in.ms})
		case now := <-tick:
			elapsed := now.Sub(start)
			if elapsed < total {
				job.ReportProgress(float64(elapsed)/float64(total),
					fmt.Sprintf("slept %d of %d ms", elapsed.Milliseconds(), in.ms))
			}
		}
	}
}

// sleepReportInterval is how often to report progress during a sleep of
// total, or 0 for a sleep too short to report on.
func sleepReportInterval(total time.Duration) time.Duration {
	every := max(total/10, sleepMinReport)
	if every >= total {
		return 0
	}
	return every
}
