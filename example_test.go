package archivist_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rpg-archivist/archivist"
)

// A task type is a handler registered under a name. Submissions of unknown
// types are refused, and the handler gets each attempt as a Job.
func ExampleRegistry_RegisterFunc() {
	reg := archivist.NewRegistry()
	reg.RegisterFunc("notes.wordcount", func(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
		var in struct{ Text string }
		if err := job.Input(&in); err != nil {
			return nil, err
		}
		job.ReportProgress(0.5, "counting")
		return json.Marshal(map[string]int{"words": len(strings.Fields(in.Text))})
	})

	// What a submission goes through: validation against the registry.
	task, err := archivist.NewTask(archivist.TaskSpec{
		Type:  "notes.wordcount",
		Input: json.RawMessage(`{"text": "The party reached Sandpoint at dusk"}`),
	}, reg, archivist.DefaultConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = archivist.NewTask(archivist.TaskSpec{Type: "notes.translate"}, reg, archivist.DefaultConfig())
	fmt.Println(archivist.ErrorCodeOf(err), err)

	// What a worker does with an attempt.
	h, _ := reg.Lookup(task.Type)
	task.Attempt = 1
	out, err := h.Handle(context.Background(), archivist.NewJob(task, func(f float64, msg string) {
		fmt.Printf("progress %.0f%% %s\n", f*100, msg)
	}))
	fmt.Println(string(out), err)
	// Output:
	// BAD_USER_INPUT unknown task type "notes.translate"; known types: notes.wordcount
	// progress 50% counting
	// {"words":6} <nil>
}
