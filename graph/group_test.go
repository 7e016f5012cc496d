package graph_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestGroups: a task submitted with a group shows it, the tasks filter and
// taskCounts take a group, and taskGroups lists the groups busiest first.
func TestGroups(t *testing.T) {
	e := setup(t)
	submit := func(group any) string {
		t.Helper()
		var out struct{ SubmitTask struct{ ID, Group *string } }
		in := map[string]any{"type": "echo", "input": map[string]any{}}
		if group != nil {
			in["group"] = group
		}
		e.must(t, `mutation($in: SubmitTaskInput!) { submitTask(input: $in) { id group } }`, map[string]any{"in": in}, &out)
		if g, _ := group.(string); (out.SubmitTask.Group == nil) != (g == "") || (g != "" && *out.SubmitTask.Group != g) {
			t.Fatalf("submitted with group %v, the task says %v", group, out.SubmitTask.Group)
		}
		return *out.SubmitTask.ID
	}
	a1, a2, a3 := submit("campaign-a"), submit("campaign-a"), submit("campaign-a")
	b1 := submit("campaign-b")
	submit(nil)
	if _, err := e.store.CancelTask(t.Context(), a3); err != nil {
		t.Fatal(err)
	}

	var page struct {
		Tasks struct {
			TotalCount int
			Edges      []struct{ Node struct{ ID, Group string } }
		}
	}
	e.must(t, `query($g: String) { tasks(filter: {group: $g}) { totalCount edges { node { id group } } } }`,
		map[string]any{"g": "campaign-a"}, &page)
	var got []string
	for _, ed := range page.Tasks.Edges {
		got = append(got, ed.Node.ID)
		if ed.Node.Group != "campaign-a" {
			t.Errorf("filter by campaign-a lists task %s of group %q", ed.Node.ID, ed.Node.Group)
		}
	}
	if d := cmp.Diff([]string{a3, a2, a1}, got); d != "" || page.Tasks.TotalCount != 3 {
		t.Errorf("tasks of campaign-a: total %d (-want +got):\n%s", page.Tasks.TotalCount, d)
	}

	counts := func(group any) map[string]int {
		t.Helper()
		var out struct {
			TaskCounts []struct {
				Status string
				Count  int
			}
		}
		e.must(t, `query($g: String) { taskCounts(group: $g) { status count } }`, map[string]any{"g": group}, &out)
		m := map[string]int{}
		for _, c := range out.TaskCounts {
			if c.Count != 0 {
				m[c.Status] = c.Count
			}
		}
		if len(out.TaskCounts) != 10 {
			t.Errorf("taskCounts(group: %v) lists %d statuses", group, len(out.TaskCounts))
		}
		return m
	}
	if d := cmp.Diff(map[string]int{"PENDING": 2, "CANCELLED": 1}, counts("campaign-a")); d != "" {
		t.Errorf("taskCounts(group: campaign-a) (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]int{"PENDING": 4, "CANCELLED": 1}, counts(nil)); d != "" {
		t.Errorf("taskCounts() (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]int{}, counts("nobody")); d != "" {
		t.Errorf("taskCounts of a group without tasks (-want +got):\n%s", d)
	}
	wantError(t, e.post(t, `{ taskCounts(group: "*") { count } }`, nil), "BAD_USER_INPUT", "reserved")

	type group struct {
		Group             string
		Unfinished, Total int
		Counts            []struct {
			Status string
			Count  int
		}
	}
	var groups struct{ TaskGroups []group }
	e.must(t, `{ taskGroups { group unfinished total counts { status count } } }`, nil, &groups)
	var names []string
	for _, g := range groups.TaskGroups {
		names = append(names, g.Group)
	}
	if d := cmp.Diff([]string{"campaign-a", "campaign-b"}, names); d != "" {
		t.Fatalf("taskGroups (-want +got):\n%s", d)
	}
	if g := groups.TaskGroups[0]; g.Unfinished != 2 || g.Total != 3 || len(g.Counts) != 10 {
		t.Errorf("campaign-a: %+v", g)
	}
	// The busiest first: b gets more unfinished tasks than a.
	submit("campaign-b")
	submit("campaign-b")
	e.must(t, `{ taskGroups(first: 1) { group unfinished total } }`, nil, &groups)
	if len(groups.TaskGroups) != 1 || groups.TaskGroups[0].Group != "campaign-b" || groups.TaskGroups[0].Unfinished != 3 {
		t.Errorf("taskGroups(first: 1) = %+v, want campaign-b with 3 unfinished", groups.TaskGroups)
	}
	wantError(t, e.post(t, `{ taskGroups(first: -1) { group } }`, nil), "BAD_USER_INPUT", "first")
	_ = b1

	// A group is checked at submission.
	r := e.post(t, `mutation { submitTask(input: {type: "echo", input: {}, group: "`+strings.Repeat("x", 257)+`"}) { id } }`, nil)
	wantError(t, r, "BAD_USER_INPUT", "group")
}

// TestWorkflowGroup: a workflow's group is its steps' tasks' group.
func TestWorkflowGroup(t *testing.T) {
	t.Parallel()
	e := setup(t)
	in := threeSteps()
	in["group"] = "campaign-w"
	var out struct {
		SubmitWorkflow struct {
			ID    string
			Group *string
			Steps []struct{ Task struct{ Group *string } }
		}
	}
	e.must(t, `mutation($in: WorkflowInput!) { submitWorkflow(input: $in) { id group steps { task { group } } } }`,
		map[string]any{"in": in}, &out)
	w := out.SubmitWorkflow
	if w.Group == nil || *w.Group != "campaign-w" || len(w.Steps) != 3 {
		t.Fatalf("workflow: %+v", w)
	}
	for i, s := range w.Steps {
		if s.Task.Group == nil || *s.Task.Group != "campaign-w" {
			t.Errorf("step %d's task has group %v", i, s.Task.Group)
		}
	}
	var q struct{ Workflow struct{ Group *string } }
	e.must(t, `query($id: ID!) { workflow(id: $id) { group } }`, map[string]any{"id": w.ID}, &q)
	if q.Workflow.Group == nil || *q.Workflow.Group != "campaign-w" {
		t.Errorf("workflow(id).group = %v", q.Workflow.Group)
	}
	in["group"] = "*"
	wantError(t, e.post(t, `mutation($in: WorkflowInput!) { submitWorkflow(input: $in) { id } }`, map[string]any{"in": in}),
		"BAD_USER_INPUT", "reserved")
}
