package client_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/client"
)

func TestGroups(t *testing.T) {
	c := client.New(server)
	group := "client-groups-" + time.Now().Format("150405.000000")
	hold := client.TaskSpec{Type: "sleep", Input: json.RawMessage(`{"ms": 60000}`), Delay: time.Hour, Group: group}
	tasks, err := c.SubmitMany(ctx(t), []client.TaskSpec{hold, hold, {Type: "echo", Group: group}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tasks {
		if tk.Group != group {
			t.Fatalf("submitted task %s has group %q, want %q", tk.ID, tk.Group, group)
		}
	}
	if _, err := c.Wait(ctx(t), tasks[2].ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Cancel(ctx(t), tasks[1].ID); err != nil {
		t.Fatal(err)
	}
	page, err := c.List(ctx(t), client.Filter{Group: group}, 10, "")
	if err != nil || page.TotalCount != 3 {
		t.Fatalf("List of the group: %v, %+v", err, page)
	}
	counts, err := c.Counts(ctx(t), group)
	if err != nil || len(counts) != 3 || counts[client.StatusScheduled] != 1 || counts[client.StatusCompleted] != 1 || counts[client.StatusCancelled] != 1 {
		t.Errorf("Counts(%s) = %v, %v; want 1 SCHEDULED, COMPLETED and CANCELLED", group, counts, err)
	}
	all, err := c.Counts(ctx(t), "")
	if err != nil || all[client.StatusCompleted] < 1 {
		t.Errorf("Counts() = %v, %v", all, err)
	}
	groups, err := c.Groups(ctx(t), 500)
	if err != nil {
		t.Fatal(err)
	}
	var found *client.GroupCounts
	for _, g := range groups {
		if g.Group == group {
			found = g
		}
	}
	if found == nil || found.Total != 3 || found.Unfinished != 1 || found.Counts[client.StatusScheduled] != 1 {
		t.Errorf("Groups lists %s as %+v", group, found)
	}
	if _, err := c.Cancel(ctx(t), tasks[0].ID); err != nil {
		t.Fatal(err)
	}

	w, err := c.SubmitWorkflow(ctx(t), client.WorkflowSpec{Name: "grouped", Group: group + "-w",
		Steps: []client.WorkflowStepSpec{{Key: "a", Task: client.TaskSpec{Type: "echo"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if w.Group != group+"-w" {
		t.Errorf("workflow group %q", w.Group)
	}
	step, err := c.Get(ctx(t), w.Steps[0].Task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if step.Group != group+"-w" {
		t.Errorf("step's task has group %q, want the workflow's", step.Group)
	}
}
