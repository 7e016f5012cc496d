package client_test

import (
	"testing"

	"github.com/rpg-archivist/archivist/client"
)

// TestLimitErrors checks what the API refuses before the store is asked.
func TestLimitErrors(t *testing.T) {
	t.Parallel()
	c := client.New(server)
	for _, spec := range []client.LimitSpec{
		{MaxConcurrent: 2},
		{TaskType: "echo"},
		{TaskType: "summon.dragon", MaxConcurrent: 2},
		{TaskType: "echo", MaxConcurrent: 2, Burst: 3},
		{TaskType: "echo", MaxConcurrent: -1},
	} {
		if _, err := c.SetLimit(ctx(t), spec); client.CodeOf(err) != client.CodeBadUserInput {
			t.Errorf("SetLimit(%+v): %v, want BAD_USER_INPUT", spec, err)
		}
	}
	if err := c.DeleteLimit(ctx(t), "type=summon.dragon"); !client.IsNotFound(err) {
		t.Errorf("DeleteLimit of no limit: %v, want NOT_FOUND", err)
	}
	if _, err := c.PauseTaskType(ctx(t), "summon.dragon"); client.CodeOf(err) != client.CodeBadUserInput {
		t.Errorf("PauseTaskType of an unknown type: %v, want BAD_USER_INPUT", err)
	}
	if _, err := c.ResumeTaskType(ctx(t), "summon.dragon"); client.CodeOf(err) != client.CodeBadUserInput {
		t.Errorf("ResumeTaskType of an unknown type: %v, want BAD_USER_INPUT", err)
	}
	states, err := c.TaskTypeStates(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range states {
		found = found || s.Type == "echo"
	}
	if !found {
		t.Errorf("TaskTypeStates = %+v, want echo among them", states)
	}
}
