package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	archivist "github.com/rpg-archivist/archivist"
)

// MaxFailTimes bounds the "times" of a "fail" task.
const MaxFailTimes = 1_000_000

// FailHandler runs "fail", which fails its first attempts on purpose to
// exercise retries, permanent failures and panic recovery.
type FailHandler struct{}

type failInput struct {
	times     int
	message   string
	permanent bool
	panic     bool
}

const failExample = `{"times": 2}`

func parseFailInput(input json.RawMessage) (failInput, error) {
	f, err := decodeFields(input, failExample, "times", "message", "permanent", "panic")
	if err != nil {
		return failInput{}, err
	}
	var in failInput
	times, ok, err := f.int("times", 0, MaxFailTimes)
	if err != nil {
		return in, err
	}
	if !ok {
		return in, fmt.Errorf("times is required: how many attempts fail before one succeeds, such as %s", failExample)
	}
	in.times = int(times)
	msg, ok, err := f.string("message")
	if err != nil {
		return in, err
	}
	if ok && msg == "" {
		return in, errors.New("message must not be empty; leave it out for the default message")
	}
	in.message = msg
	if in.permanent, err = f.bool("permanent"); err != nil {
		return in, err
	}
	if in.panic, err = f.bool("panic"); err != nil {
		return in, err
	}
	return in, nil
}

// ValidateInput checks that input is {"times": N} with N >= 0 and the
// optional fields "message" (a non-empty string), "permanent" and "panic"
// (booleans).
func (FailHandler) ValidateInput(input json.RawMessage) error {
	_, err := parseFailInput(input)
	return err
}

// Handle fails while job.Task.Attempt is at most "times", then succeeds with
// {"attempts": A}.
func (FailHandler) Handle(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
	in, err := parseFailInput(job.Task.Input)
	if err != nil {
		return nil, archivist.Permanent(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	attempt := max(job.Task.Attempt, 1) // 0 only outside a worker; count it as the first
	if attempt > in.times {
		return json.Marshal(struct {
			Attempts int `json:"attempts"`
		}{attempt})
	}
	msg := in.message
	if msg == "" {
		msg = fmt.Sprintf("fail: attempt %d of %d planned failures", attempt, in.times)
	}
	if in.panic {
		panic(msg)
	}
	if in.permanent {
		return nil, archivist.Permanent(errors.New(msg))
	}
	return nil, errors.New(msg)
}
