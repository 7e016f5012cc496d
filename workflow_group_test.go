package archivist_test

import (
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
)

// TestWorkflowGroup: a workflow's group is every step's, added steps
// included, unless a step names its own; a bad group is refused.
func TestWorkflowGroup(t *testing.T) {
	t.Parallel()
	own := stepSpec("own")
	own.Task.Group = "elsewhere"
	spec := archivist.WorkflowSpec{Name: "w", Group: "campaign-7", Steps: []archivist.WorkflowStepSpec{
		stepSpec("a"), stepSpec("b", "a"), own,
	}}
	w, tasks, err := archivist.NewWorkflow(spec, wfRegistry(), archivist.DefaultConfig(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if w.Group != "campaign-7" {
		t.Errorf("workflow group %q", w.Group)
	}
	for i, want := range []string{"campaign-7", "campaign-7", "elsewhere"} {
		if tasks[i].Group != want {
			t.Errorf("step %s's task has group %q, want %q", tasks[i].StepKey, tasks[i].Group, want)
		}
	}
	_, added, err := archivist.NewWorkflowSteps(w, "a", []archivist.WorkflowStepSpec{stepSpec("later")}, wfRegistry(), archivist.DefaultConfig(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if added[0].Group != "campaign-7" {
		t.Errorf("an added step's task has group %q, want the workflow's", added[0].Group)
	}

	spec.Group = archivist.AnyGroup
	if _, _, err := archivist.NewWorkflow(spec, wfRegistry(), archivist.DefaultConfig(), time.Now()); !archivist.IsCode(err, archivist.CodeBadUserInput) {
		t.Errorf("workflow in group %q: %v, want BAD_USER_INPUT", archivist.AnyGroup, err)
	}
	spec.Group = ""
	w, tasks, err = archivist.NewWorkflow(spec, wfRegistry(), archivist.DefaultConfig(), time.Now())
	if err != nil || w.Group != "" || tasks[0].Group != "" {
		t.Errorf("workflow without a group: %v, group %q, first step's %q", err, w.Group, tasks[0].Group)
	}
}
