package graph_test

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph"
	"github.com/rpg-archivist/archivist/store"
)

// flowStore is the memory store with limits and paused types kept in
// maps, so that these tests check the API's side of flow control (checks,
// conversions, errors) whatever the stores' side does; the conformance
// suite checks the stores.
type flowStore struct {
	*store.Memory
	mu     sync.Mutex
	limits map[string]*archivist.Limit
	paused map[string]bool
}

func (s *flowStore) SetLimit(_ context.Context, l *archivist.Limit) (*archivist.Limit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.limits[l.ID]; ok {
		l.CreatedAt = old.CreatedAt
	}
	s.limits[l.ID] = l.Clone()
	return l.Clone(), nil
}

func (s *flowStore) ListLimits(context.Context) ([]*archivist.Limit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*archivist.Limit
	for _, l := range s.limits {
		out = append(out, l.Clone())
	}
	slices.SortFunc(out, func(a, b *archivist.Limit) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *flowStore) DeleteLimit(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.limits[id]; !ok {
		return archivist.Errorf(archivist.CodeNotFound, "no limit %q", id)
	}
	delete(s.limits, id)
	return nil
}

func (s *flowStore) PauseTaskType(_ context.Context, typ string, paused bool) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused[typ] == paused {
		return false, nil
	}
	if paused {
		s.paused[typ] = true
	} else {
		delete(s.paused, typ)
	}
	return true, nil
}

func (s *flowStore) PausedTaskTypes(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for t := range s.paused {
		out = append(out, t)
	}
	slices.Sort(out)
	return out, nil
}

func setupFlow(t *testing.T) (*env, *flowStore) {
	t.Helper()
	var ls *flowStore
	e := setup(t, func(r *graph.Resolver, _ *graph.HandlerOptions) {
		ls = &flowStore{Memory: r.Store.(*store.Memory), limits: map[string]*archivist.Limit{}, paused: map[string]bool{}}
		r.Store = ls
	})
	return e, ls
}

const limitFields = `id taskType group maxConcurrent ratePerSecond burst running held groups { group running held } createdAt updatedAt`

type limitView struct {
	ID            string   `json:"id"`
	TaskType      *string  `json:"taskType"`
	Group         *string  `json:"group"`
	MaxConcurrent *int     `json:"maxConcurrent"`
	RatePerSecond *float64 `json:"ratePerSecond"`
	Burst         *int     `json:"burst"`
	Running       int      `json:"running"`
	Held          int      `json:"held"`
	Groups        []struct {
		Group   string `json:"group"`
		Running int    `json:"running"`
		Held    int    `json:"held"`
	} `json:"groups"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

const setLimitOp = `mutation($in: LimitInput!) { setLimit(input: $in) {` + limitFields + `} }`

func TestSetLimit(t *testing.T) {
	t.Parallel()
	e, ls := setupFlow(t)

	var out struct{ SetLimit limitView }
	e.must(t, setLimitOp, map[string]any{"in": map[string]any{"taskType": " sleep ", "group": "*", "maxConcurrent": 2}}, &out)
	l := out.SetLimit
	if l.ID != "type=sleep,group=*" || l.TaskType == nil || *l.TaskType != "sleep" || l.Group == nil || *l.Group != "*" ||
		l.MaxConcurrent == nil || *l.MaxConcurrent != 2 || l.RatePerSecond != nil || l.Burst != nil || l.Groups == nil {
		t.Fatalf("setLimit = %+v", l)
	}
	if l.CreatedAt != "2025-03-01T12:00:00Z" || l.UpdatedAt != l.CreatedAt {
		t.Errorf("createdAt %s, updatedAt %s", l.CreatedAt, l.UpdatedAt)
	}

	// A rate without a burst gets the rate rounded up.
	e.must(t, setLimitOp, map[string]any{"in": map[string]any{"group": "campaign-7", "ratePerSecond": 2.5}}, &out)
	if l := out.SetLimit; l.ID != "group=campaign-7" || l.TaskType != nil || l.MaxConcurrent != nil ||
		l.RatePerSecond == nil || *l.RatePerSecond != 2.5 || l.Burst == nil || *l.Burst != 3 {
		t.Fatalf("rate limit = %+v", l)
	}

	// The same scope replaces the limit; the store keeps its creation time.
	e.clock.Advance(time.Minute)
	e.must(t, setLimitOp, map[string]any{"in": map[string]any{"taskType": "sleep", "group": "*", "maxConcurrent": 5, "ratePerSecond": 1, "burst": 4}}, &out)
	if l := out.SetLimit; l.ID != "type=sleep,group=*" || *l.MaxConcurrent != 5 || *l.Burst != 4 ||
		l.CreatedAt != "2025-03-01T12:00:00Z" || l.UpdatedAt != "2025-03-01T12:01:00Z" {
		t.Fatalf("replaced limit = %+v", l)
	}

	// limits lists both, with the use the store reports.
	ls.mu.Lock()
	ls.limits["type=sleep,group=*"].Running = 3
	ls.limits["type=sleep,group=*"].Held = 4
	ls.limits["type=sleep,group=*"].Groups = []archivist.LimitGroupUse{{Group: "a", Running: 2, Held: 4}, {Group: "b", Running: 1}}
	ls.mu.Unlock()
	var list struct{ Limits []limitView }
	e.must(t, `{ limits {`+limitFields+`} }`, nil, &list)
	if len(list.Limits) != 2 || list.Limits[0].ID != "group=campaign-7" || list.Limits[1].ID != "type=sleep,group=*" {
		t.Fatalf("limits = %+v", list.Limits)
	}
	if l := list.Limits[1]; l.Running != 3 || l.Held != 4 || len(l.Groups) != 2 || l.Groups[0].Group != "a" ||
		l.Groups[0].Running != 2 || l.Groups[0].Held != 4 || l.Groups[1].Group != "b" {
		t.Errorf("use = %+v", l)
	}

	// deleteLimit removes one; an unknown id is NOT_FOUND.
	var del struct{ DeleteLimit bool }
	e.must(t, `mutation { deleteLimit(id: "group=campaign-7") }`, nil, &del)
	if !del.DeleteLimit {
		t.Error("deleteLimit = false")
	}
	wantError(t, e.post(t, `mutation { deleteLimit(id: "group=campaign-7") }`, nil), "NOT_FOUND", "group=campaign-7")
	e.must(t, `{ limits { id } }`, nil, &list)
	if len(list.Limits) != 1 || list.Limits[0].ID != "type=sleep,group=*" {
		t.Errorf("limits after delete = %+v", list.Limits)
	}
}

func TestSetLimitBadInput(t *testing.T) {
	t.Parallel()
	e, ls := setupFlow(t)
	for _, c := range []struct {
		in    map[string]any
		parts []string
	}{
		{map[string]any{"maxConcurrent": 2}, []string{"taskType, a group, or both"}},
		{map[string]any{"taskType": "sleep"}, []string{"maxConcurrent, ratePerSecond, or both"}},
		{map[string]any{"taskType": "thumbnail", "maxConcurrent": 2}, []string{`unknown task type "thumbnail"`, "echo, sleep"}},
		{map[string]any{"taskType": "sleep", "maxConcurrent": 0}, []string{"maxConcurrent must be between 1 and"}},
		{map[string]any{"taskType": "sleep", "maxConcurrent": -1}, []string{"maxConcurrent must be between 1 and"}},
		{map[string]any{"taskType": "sleep", "maxConcurrent": 2_000_000}, []string{"maxConcurrent must be between 1 and"}},
		{map[string]any{"taskType": "sleep", "ratePerSecond": 0}, []string{"ratePerSecond must be above 0"}},
		{map[string]any{"taskType": "sleep", "ratePerSecond": -3}, []string{"ratePerSecond must be above 0"}},
		{map[string]any{"taskType": "sleep", "ratePerSecond": 1, "burst": 0}, []string{"burst must be between 1 and"}},
		{map[string]any{"taskType": "sleep", "maxConcurrent": 2, "burst": 3}, []string{"burst needs a ratePerSecond"}},
		{map[string]any{"group": "bad group\n", "maxConcurrent": 2}, nil},
	} {
		r := e.post(t, setLimitOp, map[string]any{"in": c.in})
		wantError(t, r, "BAD_USER_INPUT", c.parts...)
	}
	if l, _ := ls.ListLimits(t.Context()); len(l) != 0 {
		t.Errorf("bad input stored limits: %+v", l)
	}
}

func TestPauseTaskType(t *testing.T) {
	t.Parallel()
	e, ls := setupFlow(t)
	type states struct {
		TaskTypeStates []struct {
			Type   string `json:"type"`
			Paused bool   `json:"paused"`
		}
	}
	statesOf := func() string {
		var s states
		e.must(t, `{ taskTypeStates { type paused } }`, nil, &s)
		var out string
		for _, st := range s.TaskTypeStates {
			out += st.Type
			if st.Paused {
				out += "(paused)"
			}
			out += " "
		}
		return out
	}
	if got := statesOf(); got != "echo sleep " {
		t.Fatalf("taskTypeStates = %q", got)
	}

	var p struct{ PauseTaskType, ResumeTaskType bool }
	e.must(t, `mutation { pauseTaskType(type: "sleep") }`, nil, &p)
	if !p.PauseTaskType {
		t.Error("first pause = false")
	}
	e.must(t, `mutation { pauseTaskType(type: "sleep") }`, nil, &p)
	if p.PauseTaskType {
		t.Error("second pause = true")
	}
	if got := statesOf(); got != "echo sleep(paused) " {
		t.Errorf("taskTypeStates = %q", got)
	}
	wantError(t, e.post(t, `mutation { pauseTaskType(type: "thumbnail") }`, nil), "BAD_USER_INPUT", `unknown task type "thumbnail"`, "known types: echo, sleep")
	wantError(t, e.post(t, `mutation { resumeTaskType(type: "thumbnail") }`, nil), "BAD_USER_INPUT", "known types: echo, sleep")

	e.must(t, `mutation { resumeTaskType(type: "sleep") }`, nil, &p)
	if !p.ResumeTaskType {
		t.Error("first resume = false")
	}
	e.must(t, `mutation { resumeTaskType(type: "sleep") }`, nil, &p)
	if p.ResumeTaskType {
		t.Error("second resume = true")
	}
	if got := statesOf(); got != "echo sleep " {
		t.Errorf("taskTypeStates = %q", got)
	}

	// A type paused in the store that this node does not accept is listed
	// and can be resumed.
	if _, err := ls.PauseTaskType(t.Context(), "thumbnail", true); err != nil {
		t.Fatal(err)
	}
	if got := statesOf(); got != "echo sleep thumbnail(paused) " {
		t.Errorf("taskTypeStates = %q", got)
	}
	e.must(t, `mutation { resumeTaskType(type: "thumbnail") }`, nil, &p)
	if !p.ResumeTaskType {
		t.Error("resume of a paused unknown type = false")
	}
	if got := statesOf(); got != "echo sleep " {
		t.Errorf("taskTypeStates = %q", got)
	}
}
