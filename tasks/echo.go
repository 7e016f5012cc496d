package tasks

import (
	"context"
	"encoding/json"

	archivist "github.com/rpg-archivist/archivist"
)

// EchoHandler runs "echo": the result is the input, unchanged. Any JSON input
// is accepted, so it has no ValidateInput.
type EchoHandler struct{}

// Handle returns a copy of the job's input, or null when there is none.
func (EchoHandler) Handle(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(job.Task.Input) == 0 {
		return json.RawMessage("null"), nil
	}
	return append(json.RawMessage(nil), job.Task.Input...), nil
}
