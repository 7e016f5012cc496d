package storetest

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
)

func (h *fixture) list(q archivist.TaskQuery) *archivist.TaskPage {
	h.t.Helper()
	page, err := h.s.ListTasks(h.ctx(), q)
	if err != nil {
		h.t.Fatalf("ListTasks(%+v): %v", q, err)
	}
	return page
}

// walk pages through q with page size first and returns every task seen;
// between the first and the second page it calls between, if not nil.
func (h *fixture) walk(q archivist.TaskQuery, first int, between func()) (all []*archivist.Task, pages int) {
	h.t.Helper()
	q.First = first
	var total = -1
	for pages = 1; pages <= 1000; pages++ {
		page := h.list(q)
		if total >= 0 && between == nil && page.TotalCount != total {
			h.t.Errorf("page %d: TotalCount %d, the first page said %d", pages, page.TotalCount, total)
		}
		total = page.TotalCount
		if len(page.Tasks) > first {
			h.t.Fatalf("page %d: %d tasks for First %d", pages, len(page.Tasks), first)
		}
		all = append(all, page.Tasks...)
		if !page.HasNext {
			return all, pages
		}
		if len(page.Tasks) == 0 || page.EndCursor == "" {
			h.t.Fatalf("page %d: HasNext with %d tasks and EndCursor %q", pages, len(page.Tasks), page.EndCursor)
		}
		q.After = page.EndCursor
		if pages == 1 && between != nil {
			between()
		}
	}
	h.t.Fatalf("paging with First %d did not end after 1000 pages", first)
	return nil, 0
}

func testListTasks(t *testing.T, s suite) {
	// setup submits list-00 .. list-11 (newest last) and moves some on:
	//
	//	00 alpha LOW       PENDING          06 gamma LOW        CANCELLED
	//	01 beta NORMAL     PENDING          07 alpha HIGH       FAILED (node-1, "disk needle exploded")
	//	02 alpha HIGH      IN_PROGRESS n1   08 beta NORMAL      PENDING
	//	03 gamma CRITICAL  PENDING          09 needle.type NORMAL PENDING
	//	04 beta HIGH       COMPLETED n1     10 alpha NORMAL (id list-needle-10) PENDING
	//	05 alpha NORMAL    ASSIGNED n2      11 beta LOW         PENDING
	setup := func(h *fixture) {
		specs := []struct {
			typ  string
			prio archivist.Priority
		}{
			{"alpha", archivist.PriorityLow}, {"beta", archivist.PriorityNormal}, {"alpha", archivist.PriorityHigh},
			{"gamma", archivist.PriorityCritical}, {"beta", archivist.PriorityHigh}, {"alpha", archivist.PriorityNormal},
			{"gamma", archivist.PriorityLow}, {"alpha", archivist.PriorityHigh}, {"beta", archivist.PriorityNormal},
			{"needle.type", archivist.PriorityNormal}, {"alpha", archivist.PriorityNormal}, {"beta", archivist.PriorityLow},
		}
		for i, sp := range specs {
			id := fmt.Sprintf("list-%02d", i)
			if i == 10 {
				id = "list-needle-10"
			}
			h.create(newTask(id, sp.typ, sp.prio))
		}
		h.assign("node-1", "list-02", "list-04", "list-07")
		h.assign("node-2", "list-05")
		claimed, err := h.s.ClaimTasks(h.ctx(), "node-1", 10, grace)
		if err != nil || len(claimed) != 3 {
			h.t.Fatalf("setup: ClaimTasks: %v, %v", ids(claimed), err)
		}
		h.complete("list-04", 1, `"ok"`)
		h.fail("list-07", 1, archivist.Failure{Error: "disk needle exploded", Permanent: true})
		h.cancel("list-06")
	}
	newestFirst := []string{"list-11", "list-needle-10", "list-09", "list-08", "list-07", "list-06",
		"list-05", "list-04", "list-03", "list-02", "list-01", "list-00"}

	s.run(t, "Filters", func(t *testing.T, h *fixture) {
		setup(h)
		cases := []struct {
			name string
			q    archivist.TaskQuery
			want []string
		}{
			{"all", archivist.TaskQuery{}, newestFirst},
			{"pending", archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Status: []archivist.TaskStatus{archivist.TaskPending}}},
				[]string{"list-11", "list-needle-10", "list-09", "list-08", "list-03", "list-01", "list-00"}},
			{"finished", archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Status: []archivist.TaskStatus{archivist.TaskCompleted, archivist.TaskFailed}}},
				[]string{"list-07", "list-04"}},
			{"active", archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Status: []archivist.TaskStatus{archivist.TaskInProgress, archivist.TaskAssigned}}},
				[]string{"list-05", "list-02"}},
			{"type", archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Type: "alpha"}},
				[]string{"list-needle-10", "list-07", "list-05", "list-02", "list-00"}},
			{"priority", archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Priority: archivist.PriorityHigh}},
				[]string{"list-07", "list-04", "list-02"}},
			{"node", archivist.TaskQuery{TaskFilter: archivist.TaskFilter{NodeID: "node-1"}},
				[]string{"list-07", "list-04", "list-02"}},
			{"search id, type and error", archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Search: "needle"}},
				[]string{"list-needle-10", "list-09", "list-07"}},
			{"search id", archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Search: "st-0"}},
				[]string{"list-09", "list-08", "list-07", "list-06", "list-05", "list-04", "list-03", "list-02", "list-01", "list-00"}},
			{"type and status", archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Type: "alpha", Status: []archivist.TaskStatus{archivist.TaskPending}}},
				[]string{"list-needle-10", "list-00"}},
			{"no match", archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Type: "nothing"}}, nil},
		}
		for _, c := range cases {
			page := h.list(c.q)
			if diff := cmp.Diff(c.want, ids(page.Tasks), cmpEmpty); diff != "" {
				t.Errorf("%s: ListTasks(%+v) (-want +got):\n%s", c.name, c.q, diff)
			}
			if page.TotalCount != len(c.want) || page.HasNext {
				t.Errorf("%s: TotalCount %d, HasNext %v; want %d, false", c.name, page.TotalCount, page.HasNext, len(c.want))
			}
		}
		page := h.list(archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Status: []archivist.TaskStatus{archivist.TaskFailed}}})
		if len(page.Tasks) == 1 {
			if diff := cmp.Diff(h.get("list-07"), page.Tasks[0], taskOpts); diff != "" {
				t.Errorf("listed task differs from GetTask (-get +list):\n%s", diff)
			}
		}
	})

	s.run(t, "Pagination", func(t *testing.T, h *fixture) {
		setup(h)
		for _, first := range []int{1, 5, 12, 100} {
			got, pages := h.walk(archivist.TaskQuery{}, first, nil)
			if diff := cmp.Diff(newestFirst, ids(got)); diff != "" {
				t.Errorf("walk with First %d (-want +got):\n%s", first, diff)
			}
			if want := (len(newestFirst) + first - 1) / first; pages != want {
				t.Errorf("walk with First %d took %d pages, want %d", first, pages, want)
			}
		}
		// Filtered; the last page ends exactly at the last match.
		pending := archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Status: []archivist.TaskStatus{archivist.TaskPending}}}
		for _, first := range []int{3, 7} {
			got, _ := h.walk(pending, first, nil)
			want := []string{"list-11", "list-needle-10", "list-09", "list-08", "list-03", "list-01", "list-00"}
			if diff := cmp.Diff(want, ids(got)); diff != "" {
				t.Errorf("walk of PENDING with First %d (-want +got):\n%s", first, diff)
			}
		}
		page := h.list(archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Type: "alpha"}, First: 2})
		if page.TotalCount != 5 || !page.HasNext || len(page.Tasks) != 2 {
			t.Errorf("first page of alpha: %d tasks, total %d, HasNext %v; want 2, 5, true",
				len(page.Tasks), page.TotalCount, page.HasNext)
		}
	})

	s.run(t, "PaginationWhileSubmitting", func(t *testing.T, h *fixture) {
		setup(h)
		got, _ := h.walk(archivist.TaskQuery{}, 4, func() {
			h.create(newTask("late-1", "alpha", archivist.PriorityNormal), newTask("late-2", "alpha", archivist.PriorityNormal))
		})
		// Tasks submitted while paging are newer than the cursor: a walk
		// that started before them neither sees them nor repeats a task.
		if diff := cmp.Diff(newestFirst, ids(got)); diff != "" {
			t.Errorf("walk with submissions between pages (-want +got):\n%s", diff)
		}
	})

	s.run(t, "SearchKeepsCase", func(t *testing.T, h *fixture) {
		// Each query is an exact substring of one task's id, type or error,
		// so it matches whether or not the store ignores case.
		h.create(newTask("Mixed-Case-ID", "t", archivist.PriorityNormal), newTask("plain", "Upper.Type", archivist.PriorityNormal))
		h.running("node-1", newTask("failing", "t", archivist.PriorityNormal))
		h.fail("failing", 1, archivist.Failure{Error: "Disk Full on /var", Permanent: true})
		for query, want := range map[string]string{"Mixed-Case": "Mixed-Case-ID", "Upper.T": "plain", "Disk Full": "failing"} {
			page := h.list(archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Search: query}})
			if diff := cmp.Diff([]string{want}, ids(page.Tasks)); diff != "" {
				t.Errorf("Search %q (-want +got):\n%s", query, diff)
			}
		}
	})

	s.run(t, "PageSizeLimits", func(t *testing.T, h *fixture) {
		many := make([]*archivist.Task, 501)
		for i := range many {
			many[i] = newTask("", "many", archivist.PriorityNormal)
		}
		h.create(many...)
		page := h.list(archivist.TaskQuery{First: 1000})
		if len(page.Tasks) != 500 || page.TotalCount != 501 || !page.HasNext {
			t.Errorf("ListTasks with First 1000: %d tasks, total %d, HasNext %v; want 500, 501, true",
				len(page.Tasks), page.TotalCount, page.HasNext)
		}

		batch := make([]*archivist.Task, 55)
		for i := range batch {
			batch[i] = newTask("", "t", archivist.PriorityNormal)
		}
		h.create(batch...)
		onlyBatch := archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Type: "t"}}
		page = h.list(onlyBatch)
		if len(page.Tasks) != 50 || page.TotalCount != 55 || !page.HasNext {
			t.Errorf("ListTasks without First: %d tasks, total %d, HasNext %v; want 50, 55, true",
				len(page.Tasks), page.TotalCount, page.HasNext)
		}
		want := ids(batch)
		slices.Reverse(want)
		got, _ := h.walk(onlyBatch, 50, nil)
		if diff := cmp.Diff(want, ids(got)); diff != "" {
			t.Errorf("tasks of one batch, newest first (-want +got):\n%s", diff)
		}
	})

	s.run(t, "CountTasks", func(t *testing.T, h *fixture) {
		setup(h)
		counts, err := h.s.CountTasks(h.ctx())
		if err != nil {
			t.Fatalf("CountTasks: %v", err)
		}
		want := map[archivist.TaskStatus]int{
			archivist.TaskPending: 7, archivist.TaskAssigned: 1, archivist.TaskInProgress: 1,
			archivist.TaskCompleted: 1, archivist.TaskFailed: 1, archivist.TaskCancelled: 1,
		}
		if diff := cmp.Diff(want, nonZero(counts)); diff != "" {
			t.Errorf("CountTasks (-want +got):\n%s", diff)
		}
	})

	testListMatches(t, s)
}

// testListMatches holds every store's ListTasks to archivist.TaskFilter.Matches,
// the one definition of the filters: over a set of tasks in every status,
// of several types, priorities, nodes and errors, each filter of a table
// lists exactly the tasks Matches selects, in the store's order (that of
// the unfiltered list), whatever path the store takes (counters, indexes or
// a scan) and whatever the page size.
func testListMatches(t *testing.T, s suite) {
	s.run(t, "MatchesFilter", func(t *testing.T, h *fixture) {
		types := []string{"alpha", "Beta.Mixed", "gamma"}
		nodes := []string{"node-1", "node-2", "node-1"}
		const n = 32
		specs := make([]*archivist.Task, n)
		for i := range specs {
			id := fmt.Sprintf("m-%02d", i)
			if i%5 == 2 {
				id = fmt.Sprintf("m-Needle-%02d", i)
			}
			specs[i] = newTask(id, types[i%len(types)], archivist.AllPriorities[i%len(archivist.AllPriorities)])
			if i%4 == 0 {
				specs[i].Schedule = "nightly"
			}
		}
		// And four SCHEDULED tasks, due in an hour, two of them from a
		// schedule.
		for i := range 4 {
			sp := newTask(fmt.Sprintf("m-later-%d", i), types[i%len(types)], archivist.AllPriorities[i%len(archivist.AllPriorities)])
			sp.Delay = time.Hour
			if i%2 == 0 {
				sp.Schedule = "hourly"
			}
			specs = append(specs, sp)
		}
		h.create(specs...)
		// Task i ends in status AllTaskStatuses[i%8] (lifecycle order:
		// PENDING, ASSIGNED, IN_PROGRESS, RETRYING, COMPLETED, FAILED,
		// CANCELLED, TIMED_OUT) on node nodes[i%3].
		assigned := map[string][]string{}
		for i, sp := range specs[:n] {
			if i%8 == 1 {
				assigned[nodes[i%3]] = append(assigned[nodes[i%3]], sp.ID)
			}
		}
		for _, node := range slices.Sorted(maps.Keys(assigned)) {
			h.assign(node, assigned[node]...)
		}
		for i, sp := range specs[:n] {
			switch i % 8 {
			case 2, 3, 4, 5, 7:
				h.start(nodes[i%3], sp.ID)
			}
			switch i % 8 {
			case 3:
				h.fail(sp.ID, 1, archivist.Failure{Error: "Transient NEEDLE in the haystack",
					Retry: archivist.RetryPolicy{Base: time.Hour, Max: time.Hour}})
			case 4:
				h.complete(sp.ID, 1, `"ok"`)
			case 5:
				h.fail(sp.ID, 1, archivist.Failure{Error: "Disk Full on /var", Permanent: true})
			case 6:
				h.cancel(sp.ID)
			case 7:
				h.fail(sp.ID, 1, archivist.Failure{Error: "ran past its timeout", TimedOut: true, Permanent: true})
			}
		}
		// And two workflows of four steps: one PENDING and three WAITING
		// each, one step of the first one completed.
		wf, steps := h.workflow("matches", "", step{"a", nil}, step{"b", []string{"a"}}, step{"c", []string{"a"}}, step{"d", []string{"b", "c"}})
		h.workflow("other", "", step{"a", nil}, step{"b", []string{"a"}}, step{"c", []string{"a"}}, step{"d", []string{"b", "c"}})
		h.finish(steps["a"].ID, `"a"`)
		all, _ := h.walk(archivist.TaskQuery{}, 500, nil)
		statuses := map[archivist.TaskStatus]int{}
		for _, task := range all {
			statuses[task.Status]++
		}
		if len(all) != n+4+8 || len(statuses) != len(archivist.AllTaskStatuses) {
			t.Fatalf("setup: %d tasks listed in statuses %v; want %d in all %d statuses",
				len(all), statuses, n+4+8, len(archivist.AllTaskStatuses))
		}

		type S = []archivist.TaskStatus
		filters := []archivist.TaskFilter{
			{},
			{Status: S{archivist.TaskCompleted, archivist.TaskFailed, archivist.TaskTimedOut}},
			{Status: S{archivist.TaskPending, archivist.TaskPending}},
			{Status: S{archivist.TaskPending, archivist.TaskRetrying}},
			{Status: S{archivist.TaskPending}, Priority: archivist.PriorityHigh},
			{Status: S{archivist.TaskPending}, Priority: "URGENT"},
			{Status: S{archivist.TaskPending}, Type: "alpha"},
			{Type: "alpha"},
			{Type: "Beta.Mixed"},
			{Type: "beta.mixed"}, // types are not searched: case counts
			{Type: "nothing"},
			{NodeID: "node-1"},
			{NodeID: "node-2", Status: S{archivist.TaskAssigned}},
			{NodeID: "node-1", Status: S{archivist.TaskInProgress}},
			{NodeID: "node-2", Status: S{archivist.TaskAssigned, archivist.TaskInProgress}},
			{NodeID: "node-1", Status: S{archivist.TaskInProgress}, Priority: archivist.PriorityLow},
			{NodeID: "node-1", Status: S{archivist.TaskAssigned, archivist.TaskInProgress, archivist.TaskCompleted}},
			{NodeID: "nobody"},
			{Search: "needle"},
			{Search: "NEEDLE"},
			{Search: "disk full"},
			{Search: "beta.m"},
			{Search: "M-0"},
			{Search: "needle", Status: S{archivist.TaskRetrying}},
			{Search: "a", Type: "gamma", Priority: archivist.PriorityLow},
			{Search: "no such text"},
			{Schedule: "nightly"},
			{Schedule: "hourly", Status: S{archivist.TaskScheduled}},
			{Schedule: "nightly", Status: S{archivist.TaskPending, archivist.TaskScheduled}},
			{Schedule: "Nightly"},
			{Status: S{archivist.TaskScheduled}, Type: "alpha"},
			{WorkflowID: wf.ID},
			{WorkflowID: wf.ID, Status: S{archivist.TaskPending}},
			{WorkflowID: wf.ID, Status: S{archivist.TaskWaiting, archivist.TaskCompleted}},
			{WorkflowID: "no-such-workflow"},
			{Status: S{archivist.TaskWaiting}, Type: "t"},
			{Search: "t", Status: S{archivist.TaskWaiting}},
		}
		for _, st := range archivist.AllTaskStatuses {
			filters = append(filters, archivist.TaskFilter{Status: S{st}})
		}
		for _, p := range archivist.AllPriorities {
			filters = append(filters, archivist.TaskFilter{Priority: p})
		}
		for _, f := range filters {
			q := archivist.TaskQuery{TaskFilter: f}
			var want []string
			for _, task := range all {
				if q.Matches(task) {
					want = append(want, task.ID)
				}
			}
			page := h.list(q)
			if page.TotalCount != len(want) {
				t.Errorf("ListTasks(%+v): TotalCount %d, Matches selects %d", q, page.TotalCount, len(want))
			}
			for _, first := range []int{3, 500} {
				got, _ := h.walk(q, first, nil)
				if diff := cmp.Diff(want, ids(got), cmpEmpty); diff != "" {
					t.Errorf("ListTasks(%+v) with First %d: not the tasks Matches selects (-Matches +listed):\n%s", q, first, diff)
				}
			}
		}
	})
}
