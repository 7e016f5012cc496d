package client_test

import (
	"testing"

	"github.com/rpg-archivist/archivist/client"
)

// TestLimits sets, lists and deletes a limit, and pauses and resumes a
// task type, through a real node.
func TestLimits(t *testing.T) {
	t.Parallel()
	c := client.New(server)
	l, err := c.SetLimit(ctx(t), client.LimitSpec{TaskType: "dice.simulate", Group: "*", MaxConcurrent: 2, RatePerSecond: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	if l.ID != "type=dice.simulate,group=*" || l.TaskType != "dice.simulate" || l.Group != "*" || l.MaxConcurrent != 2 ||
		l.RatePerSecond != 1.5 || l.Burst != 2 || l.Running != 0 || l.Held != 0 || l.CreatedAt.IsZero() {
		t.Fatalf("SetLimit = %+v", l)
	}
	list, err := c.Limits(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var listed *client.Limit
	for _, x := range list {
		if x.ID == l.ID {
			listed = x
		}
	}
	if listed == nil || listed.MaxConcurrent != 2 || listed.Burst != 2 {
		t.Fatalf("Limits = %+v", list)
	}
	if err := c.DeleteLimit(ctx(t), l.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteLimit(ctx(t), l.ID); !client.IsNotFound(err) {
		t.Errorf("second DeleteLimit: %v, want NOT_FOUND", err)
	}

	if ok, err := c.PauseTaskType(ctx(t), "dice.simulate"); err != nil || !ok {
		t.Fatalf("PauseTaskType = %v, %v", ok, err)
	}
	if ok, err := c.PauseTaskType(ctx(t), "dice.simulate"); err != nil || ok {
		t.Errorf("second PauseTaskType = %v, %v", ok, err)
	}
	paused := func() bool {
		states, err := c.TaskTypeStates(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if s.Type == "dice.simulate" {
				return s.Paused
			}
		}
		t.Fatalf("dice.simulate not in %+v", states)
		return false
	}
	if !paused() {
		t.Error("dice.simulate not paused")
	}
	if ok, err := c.ResumeTaskType(ctx(t), "dice.simulate"); err != nil || !ok {
		t.Fatalf("ResumeTaskType = %v, %v", ok, err)
	}
	if paused() {
		t.Error("dice.simulate still paused")
	}
}
