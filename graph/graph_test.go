package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph"
)

const taskFields = `id type status priority input result error attempts failures maxRetries timeoutSeconds
	progress progressMessage node { id } nodeId metadata cancelRequested createdAt updatedAt assignedAt
	startedAt completedAt runAt retryBackoffMs maxBackoffMs`

type taskView struct {
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	Status          string          `json:"status"`
	Priority        string          `json:"priority"`
	Input           json.RawMessage `json:"input"`
	Result          json.RawMessage `json:"result"`
	Error           *string         `json:"error"`
	Attempts        int             `json:"attempts"`
	Failures        int             `json:"failures"`
	MaxRetries      int             `json:"maxRetries"`
	TimeoutSeconds  float64         `json:"timeoutSeconds"`
	Progress        float64         `json:"progress"`
	ProgressMessage *string         `json:"progressMessage"`
	Node            *struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"node"`
	NodeID          *string         `json:"nodeId"`
	Metadata        json.RawMessage `json:"metadata"`
	CancelRequested bool            `json:"cancelRequested"`
	CreatedAt       *time.Time      `json:"createdAt"`
	UpdatedAt       *time.Time      `json:"updatedAt"`
	AssignedAt      *time.Time      `json:"assignedAt"`
	StartedAt       *time.Time      `json:"startedAt"`
	CompletedAt     *time.Time      `json:"completedAt"`
	RunAt           *time.Time      `json:"runAt"`
	RetryBackoffMs  *int            `json:"retryBackoffMs"`
	MaxBackoffMs    *int            `json:"maxBackoffMs"`
}

// sameJSON compares two JSON documents by value.
func sameJSON(t *testing.T, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	if d := cmp.Diff(w, g); d != "" {
		t.Errorf("JSON differs (-want +got):\n%s", d)
	}
}

func TestSubmitTask(t *testing.T) {
	t.Parallel()
	e := setup(t)

	// Input and metadata as GraphQL literals.
	var out struct{ SubmitTask taskView }
	e.must(t, `mutation {
		submitTask(input: {type: "echo", input: {hello: "world", n: 3, list: [1, 2.5, true, null], e: HIGH},
			priority: HIGH, timeoutSeconds: 2.5, maxRetries: 1, metadata: "note"}) {`+taskFields+`}
	}`, nil, &out)
	got := out.SubmitTask
	if got.ID == "" || got.Type != "echo" || got.Status != "PENDING" || got.Priority != "HIGH" ||
		got.TimeoutSeconds != 2.5 || got.MaxRetries != 1 || got.Attempts != 0 {
		t.Errorf("unexpected task %+v", got)
	}
	sameJSON(t, got.Input, `{"hello": "world", "n": 3, "list": [1, 2.5, true, null], "e": "HIGH"}`)
	sameJSON(t, got.Metadata, `"note"`)
	if string(got.Result) != "null" || got.Error != nil || got.ProgressMessage != nil || got.Node != nil || got.NodeID != nil {
		t.Errorf("a new task has no result, error, progress message or node: %+v", got)
	}
	if got.CreatedAt == nil || !got.CreatedAt.Equal(e.clock.Now()) || got.StartedAt != nil || got.CompletedAt != nil ||
		got.AssignedAt != nil || got.RunAt != nil {
		t.Errorf("timestamps: %+v", got)
	}
	stored, err := e.store.GetTask(t.Context(), got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Timeout != 2500*time.Millisecond || stored.Priority != archivist.PriorityHigh {
		t.Errorf("stored %+v", stored)
	}

	// Input as a variable keeps numbers exactly; absent fields take the
	// configured defaults.
	e.must(t, `mutation($in: JSON) { submitTask(input: {type: "echo", input: $in}) {`+taskFields+`} }`,
		map[string]any{"in": json.RawMessage(`{"big": 12345678901234567890, "s": "<&>"}`)}, &out)
	got = out.SubmitTask
	sameJSON(t, got.Input, `{"big": 12345678901234567890, "s": "<&>"}`)
	if !strings.Contains(string(got.Input), "12345678901234567890") {
		t.Errorf("a large number lost its digits: %s", got.Input)
	}
	def := archivist.DefaultConfig()
	if got.Priority != "NORMAL" || got.TimeoutSeconds != def.DefaultTimeout.Seconds() ||
		got.MaxRetries != def.DefaultMaxRetries || string(got.Metadata) != "null" {
		t.Errorf("defaults not applied: %+v", got)
	}
	if got.RetryBackoffMs != nil || got.MaxBackoffMs != nil {
		t.Errorf("a task without its own backoff shows one: %v, %v", got.RetryBackoffMs, got.MaxBackoffMs)
	}
	var q struct{ Task taskView }
	e.must(t, `query($id: ID!) { task(id: $id) {`+taskFields+`} }`, map[string]any{"id": got.ID}, &q)
	if q.Task.ID != got.ID {
		t.Errorf("task(id) = %+v", q.Task)
	}
}

func TestSubmitTaskErrors(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const submit = `mutation($in: SubmitTaskInput!) { submitTask(input: $in) { id } }`
	in := func(kv ...any) map[string]any {
		m := map[string]any{"type": "echo"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return map[string]any{"in": m}
	}
	big := strings.Repeat("x", archivist.MaxInputBytes)

	tests := []struct {
		name  string
		query string
		vars  map[string]any
		code  string
		parts []string
	}{
		{"unknown type", submit, in("type", "nope"), "BAD_USER_INPUT", []string{`"nope"`, "echo", "sleep"}},
		{"blank type", submit, in("type", "  "), "BAD_USER_INPUT", []string{"required"}},
		{"negative timeout", submit, in("timeoutSeconds", -1), "BAD_USER_INPUT", []string{"timeout"}},
		{"timeout too long", submit, in("timeoutSeconds", 1e12), "BAD_USER_INPUT", []string{"timeout"}},
		{"too many retries", submit, in("maxRetries", 101), "BAD_USER_INPUT", []string{"maxRetries"}},
		{"zero backoff", submit, in("retryBackoffMs", 0), "BAD_USER_INPUT", []string{"retryBackoff must be above 0"}},
		{"negative max backoff", submit, in("maxBackoffMs", -5), "BAD_USER_INPUT", []string{"maxBackoff must be above 0"}},
		{"backoff over a day", submit, in("retryBackoffMs", 86400001), "BAD_USER_INPUT", []string{"retryBackoff", "limit of 24h0m0s"}},
		{"max backoff under backoff", submit, in("retryBackoffMs", 5000, "maxBackoffMs", 1000), "BAD_USER_INPUT",
			[]string{"maxBackoff 1s must not be under retryBackoff 5s"}},
		{"runAt and delay", submit, in("runAt", "2030-01-01T00:00:00Z", "delaySeconds", 5), "BAD_USER_INPUT", []string{"runAt or delaySeconds, not both"}},
		{"negative delay", submit, in("delaySeconds", -1), "BAD_USER_INPUT", []string{"delaySeconds must not be negative"}},
		{"delay over a year", submit, in("delaySeconds", 400*86400), "BAD_USER_INPUT", []string{"delay", "limit of"}},
		{"runAt too far", submit, in("runAt", "2999-01-01T00:00:00Z"), "BAD_USER_INPUT", []string{"runAt", "ahead"}},
		{"runAt not a time", submit, in("runAt", "tomorrow"), "BAD_USER_INPUT", []string{"tomorrow is not a time"}},
		{"runAt a number", submit, in("runAt", 12), "BAD_USER_INPUT", []string{"12 is not a time"}},
		{"uniqueFor without a key", submit, in("uniqueForSeconds", 60), "BAD_USER_INPUT", []string{"need a uniqueKey"}},
		{"onDuplicate without a key", submit, in("onDuplicate", "REPLACE"), "BAD_USER_INPUT", []string{"need a uniqueKey"}},
		{"blank unique key", submit, in("uniqueKey", "  "), "BAD_USER_INPUT", []string{"uniqueKey must not be blank"}},
		{"long unique key", submit, in("uniqueKey", strings.Repeat("k", 513)), "BAD_USER_INPUT", []string{"uniqueKey is 513 bytes"}},
		{"uniqueFor over 30 days", submit, in("uniqueKey", "k", "uniqueForSeconds", 31*86400), "BAD_USER_INPUT", []string{"uniqueFor", "limit of"}},
		{"bad onDuplicate", submit, in("uniqueKey", "k", "onDuplicate", "MERGE"), "GRAPHQL_VALIDATION_FAILED", []string{"MERGE"}},
		{"input too large", submit, in("input", map[string]any{"blob": big}), "BAD_USER_INPUT", []string{"input", "limit"}},
		{"metadata too large", submit, in("metadata", big), "BAD_USER_INPUT", []string{"metadata"}},
		{"bad priority in a variable", submit, in("priority", "URGENT"), "GRAPHQL_VALIDATION_FAILED", []string{"URGENT"}},
		{"bad priority literal", `mutation { submitTask(input: {type: "echo", priority: URGENT}) { id } }`, nil,
			"GRAPHQL_VALIDATION_FAILED", []string{"URGENT"}},
		{"missing type", `mutation { submitTask(input: {}) { id } }`, nil, "GRAPHQL_VALIDATION_FAILED", nil},
		{"unknown field", `mutation { submitTask(input: {type: "echo"}) { nope } }`, nil, "GRAPHQL_VALIDATION_FAILED", []string{"nope"}},
		{"parse error", `mutation { submitTask(`, nil, "GRAPHQL_PARSE_FAILED", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantError(t, e.post(t, tt.query, tt.vars), tt.code, tt.parts...)
		})
	}

	t.Run("malformed body", func(t *testing.T) {
		t.Parallel()
		r := e.postRaw(t, []byte(`{"query": "{ taskTypes }", `))
		if r.Status != http.StatusBadRequest {
			t.Errorf("status %d, want 400", r.Status)
		}
		wantError(t, r, "BAD_USER_INPUT", "could not be decoded")
		if strings.Contains(r.Errors[0].Message, "taskTypes") {
			t.Errorf("the body is quoted back: %q", r.Errors[0].Message)
		}
	})
	t.Run("body too large", func(t *testing.T) {
		t.Parallel()
		body := fmt.Appendf(nil, `{"query": "{ taskTypes }", "variables": {"x": %q}}`, strings.Repeat("y", 3<<20))
		r := e.postRaw(t, body)
		if r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413", r.Status)
		}
		wantError(t, r, "BAD_USER_INPUT", "limit")

		// Without a Content-Length the limit applies as the body is read.
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL, io.MultiReader(bytes.NewReader(body)))
		req.Header.Set("Content-Type", "application/json")
		req.ContentLength = -1
		wantError(t, doRequest(t, req), "BAD_USER_INPUT", "too large")
	})
	t.Run("batch all or none", func(t *testing.T) {
		t.Parallel()
		r := e.post(t, `mutation($ins: [SubmitTaskInput!]!) { submitTasks(inputs: $ins) { id } }`, map[string]any{
			"ins": []any{map[string]any{"type": "echo", "metadata": map[string]any{"batch": "bad"}}, map[string]any{"type": "nope"}},
		})
		wantError(t, r, "BAD_USER_INPUT", "inputs[1]", "nope")
		page, err := e.store.ListTasks(t.Context(), archivist.TaskQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range page.Tasks {
			if strings.Contains(string(task.Metadata), "bad") {
				t.Errorf("a task of a refused batch was stored: %v", task)
			}
		}
	})
	t.Run("batch too large", func(t *testing.T) {
		t.Parallel()
		ins := make([]any, graph.MaxBatch+1)
		for i := range ins {
			ins[i] = map[string]any{"type": "echo"}
		}
		r := e.post(t, `mutation($ins: [SubmitTaskInput!]!) { submitTasks(inputs: $ins) { id } }`, map[string]any{"ins": ins})
		wantError(t, r, "BAD_USER_INPUT", "1000")
	})
}

func TestSubmitTaskOwnBackoff(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var out struct{ SubmitTask taskView }
	e.must(t, `mutation { submitTask(input: {type: "echo", retryBackoffMs: 1500, maxBackoffMs: 60000}) {`+taskFields+`} }`, nil, &out)
	got := out.SubmitTask
	if got.RetryBackoffMs == nil || *got.RetryBackoffMs != 1500 || got.MaxBackoffMs == nil || *got.MaxBackoffMs != 60000 {
		t.Errorf("own backoff shown as %v, %v; want 1500, 60000", got.RetryBackoffMs, got.MaxBackoffMs)
	}
	stored, err := e.store.GetTask(t.Context(), got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.RetryBackoff != 1500*time.Millisecond || stored.MaxBackoff != time.Minute {
		t.Errorf("stored backoff %s, %s; want 1.5s, 1m", stored.RetryBackoff, stored.MaxBackoff)
	}

	// Only one given: the other stays the cluster's (null).
	var q struct{ SubmitTask taskView }
	e.must(t, `mutation { submitTask(input: {type: "echo", maxBackoffMs: 250}) {`+taskFields+`} }`, nil, &q)
	if q.SubmitTask.RetryBackoffMs != nil || q.SubmitTask.MaxBackoffMs == nil || *q.SubmitTask.MaxBackoffMs != 250 {
		t.Errorf("only maxBackoffMs given: shown as %v, %v; want null, 250", q.SubmitTask.RetryBackoffMs, q.SubmitTask.MaxBackoffMs)
	}
}

func TestSubmitTasks(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var out struct {
		SubmitTasks []taskView
	}
	e.must(t, `mutation { submitTasks(inputs: [{type: "echo", input: 1}, {type: "sleep", priority: LOW}]) { id type priority input } }`, nil, &out)
	if len(out.SubmitTasks) != 2 || out.SubmitTasks[0].Type != "echo" || out.SubmitTasks[1].Type != "sleep" ||
		out.SubmitTasks[1].Priority != "LOW" {
		t.Fatalf("got %+v", out.SubmitTasks)
	}
	sameJSON(t, out.SubmitTasks[0].Input, `1`)
	e.must(t, `mutation { submitTasks(inputs: []) { id } }`, nil, &out)
	if len(out.SubmitTasks) != 0 {
		t.Errorf("an empty batch gave %+v", out.SubmitTasks)
	}
}

// Lookups of an unknown id return null without an error; mutations on one
// fail with NOT_FOUND.
func TestNotFound(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.post(t, `{ task(id: "nope") { id } node(id: "nope") { id } leader { id } }`, nil)
	if len(r.Errors) != 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	sameJSON(t, r.Data, `{"task": null, "node": null, "leader": null}`)
	for _, m := range []string{"cancelTask", "retryTask", "drainNode", "resumeNode"} {
		wantError(t, e.post(t, `mutation { `+m+`(id: "nope") { id } }`, nil), "NOT_FOUND", "nope")
	}
	wantError(t, e.post(t, `mutation { removeNode(id: "nope") }`, nil), "NOT_FOUND", "nope")
}

func TestCancelAndRetry(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var sub struct{ SubmitTask taskView }
	e.must(t, `mutation { submitTask(input: {type: "sleep"}) { id } }`, nil, &sub)
	id := sub.SubmitTask.ID
	var c struct{ CancelTask taskView }
	e.must(t, `mutation($id: ID!) { cancelTask(id: $id) { status completedAt } }`, map[string]any{"id": id}, &c)
	if c.CancelTask.Status != "CANCELLED" || c.CancelTask.CompletedAt == nil {
		t.Errorf("cancelled: %+v", c.CancelTask)
	}
	wantError(t, e.post(t, `mutation($id: ID!) { cancelTask(id: $id) { id } }`, map[string]any{"id": id}), "CONFLICT")
	var rt struct{ RetryTask taskView }
	e.must(t, `mutation($id: ID!) { retryTask(id: $id) { status } }`, map[string]any{"id": id}, &rt)
	if rt.RetryTask.Status != "PENDING" {
		t.Errorf("retried: %+v", rt.RetryTask)
	}
	wantError(t, e.post(t, `mutation($id: ID!) { retryTask(id: $id) { id } }`, map[string]any{"id": id}), "CONFLICT")
}

type connView struct {
	Tasks struct {
		Edges []struct {
			Cursor string
			Node   taskView
		}
		PageInfo struct {
			HasNextPage bool
			EndCursor   *string
		}
		TotalCount int
	}
}

func (c connView) ids() []string {
	var out []string
	for _, e := range c.Tasks.Edges {
		out = append(out, e.Node.ID)
	}
	return out
}

func TestTasksConnection(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := t.Context()
	// Seven tasks, oldest first: echo, sleep, echo, ... with priorities.
	var ids []string
	for i := range 7 {
		typ, prio := "echo", "NORMAL"
		if i%2 == 1 {
			typ = "sleep"
		}
		if i == 3 {
			prio = "CRITICAL"
		}
		var out struct{ SubmitTask taskView }
		e.must(t, `mutation($t: String!, $p: TaskPriority) { submitTask(input: {type: $t, priority: $p}) { id } }`,
			map[string]any{"t": typ, "p": prio}, &out)
		ids = append(ids, out.SubmitTask.ID)
	}
	newest := func(idx ...int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, ids[i])
		}
		return out
	}
	const q = `query($f: TaskFilter, $first: Int, $after: String) {
		tasks(filter: $f, first: $first, after: $after) {
			edges { cursor node { id type status priority } } pageInfo { hasNextPage endCursor } totalCount
		}
	}`

	// Pages of three, newest first.
	var p connView
	e.must(t, q, map[string]any{"first": 3}, &p)
	if d := cmp.Diff(newest(6, 5, 4), p.ids()); d != "" || !p.Tasks.PageInfo.HasNextPage || p.Tasks.TotalCount != 7 {
		t.Fatalf("page 1: %s %+v", d, p.Tasks.PageInfo)
	}
	if p.Tasks.PageInfo.EndCursor == nil || *p.Tasks.PageInfo.EndCursor != p.Tasks.Edges[2].Cursor {
		t.Errorf("endCursor %v is not the last edge's cursor %q", p.Tasks.PageInfo.EndCursor, p.Tasks.Edges[2].Cursor)
	}
	middle := p.Tasks.Edges[1].Cursor
	e.must(t, q, map[string]any{"first": 3, "after": *p.Tasks.PageInfo.EndCursor}, &p)
	if d := cmp.Diff(newest(3, 2, 1), p.ids()); d != "" || !p.Tasks.PageInfo.HasNextPage {
		t.Fatalf("page 2: %s", d)
	}
	e.must(t, q, map[string]any{"first": 3, "after": *p.Tasks.PageInfo.EndCursor}, &p)
	if d := cmp.Diff(newest(0), p.ids()); d != "" || p.Tasks.PageInfo.HasNextPage || p.Tasks.TotalCount != 7 {
		t.Fatalf("page 3: %s %+v", d, p.Tasks.PageInfo)
	}
	// Any edge's cursor continues after that edge.
	e.must(t, q, map[string]any{"first": 2, "after": middle}, &p)
	if d := cmp.Diff(newest(4, 3), p.ids()); d != "" {
		t.Errorf("after a middle cursor: %s", d)
	}
	// first: 0 counts only.
	e.must(t, q, map[string]any{"first": 0}, &p)
	if len(p.Tasks.Edges) != 0 || p.Tasks.TotalCount != 7 || !p.Tasks.PageInfo.HasNextPage || p.Tasks.PageInfo.EndCursor != nil {
		t.Errorf("first 0: %+v", p.Tasks)
	}
	// Default page size.
	e.must(t, q, nil, &p)
	if len(p.Tasks.Edges) != 7 || p.Tasks.PageInfo.HasNextPage {
		t.Errorf("no first: %d edges", len(p.Tasks.Edges))
	}

	// Filters.
	lease, err := e.store.Campaign(ctx, "n1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.AssignTasks(ctx, lease, []archivist.Assignment{{TaskID: ids[3], NodeID: "n1"}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	filters := []struct {
		name   string
		filter map[string]any
		want   []string
	}{
		{"type", map[string]any{"type": "sleep"}, newest(5, 3, 1)},
		{"priority", map[string]any{"priority": "CRITICAL"}, newest(3)},
		{"status", map[string]any{"status": []string{"ASSIGNED", "COMPLETED"}}, newest(3)},
		{"empty status list", map[string]any{"status": []string{}}, newest(6, 5, 4, 3, 2, 1, 0)},
		{"node", map[string]any{"nodeId": "n1"}, newest(3)},
		{"search type", map[string]any{"search": "SLE"}, newest(5, 3, 1)},
		{"search id", map[string]any{"search": ids[2]}, newest(2)},
		{"together", map[string]any{"type": "echo", "status": []string{"PENDING"}}, newest(6, 4, 2, 0)},
	}
	for _, f := range filters {
		var p connView
		e.must(t, q, map[string]any{"f": f.filter}, &p)
		if d := cmp.Diff(f.want, p.ids()); d != "" || p.Tasks.TotalCount != len(f.want) {
			t.Errorf("filter %s: total %d, ids (-want +got):\n%s", f.name, p.Tasks.TotalCount, d)
		}
	}

	wantError(t, e.post(t, q, map[string]any{"first": -1}), "BAD_USER_INPUT", "first")
	wantError(t, e.post(t, q, map[string]any{"first": 501}), "BAD_USER_INPUT", "500")
	wantError(t, e.post(t, q, map[string]any{"after": "not-a-cursor"}), "BAD_USER_INPUT", "cursor")

	var counts struct {
		TaskCounts []struct {
			Status string
			Count  int
		}
	}
	e.must(t, `{ taskCounts { status count } }`, nil, &counts)
	want := map[string]int{"PENDING": 6, "ASSIGNED": 1}
	if len(counts.TaskCounts) != len(archivist.AllTaskStatuses) {
		t.Errorf("taskCounts lists %d statuses", len(counts.TaskCounts))
	}
	for _, c := range counts.TaskCounts {
		if c.Count != want[c.Status] {
			t.Errorf("count of %s = %d, want %d", c.Status, c.Count, want[c.Status])
		}
	}
	var types struct{ TaskTypes []string }
	e.must(t, `{ taskTypes }`, nil, &types)
	if d := cmp.Diff([]string{"echo", "sleep"}, types.TaskTypes); d != "" {
		t.Errorf("taskTypes: %s", d)
	}
}

type configView struct {
	Version               int
	Enabled               bool
	Discovery             string
	HeartbeatIntervalMs   int
	MissedHeartbeats      int
	DefaultTimeoutSeconds float64
	DefaultMaxRetries     int
	Strategy              string
	FaultTolerance        bool
	Thresholds            struct{ CPUPercent, MemoryPercent, Load1 float64 }
	Workers               int
	RetentionSeconds      float64
	RetryBackoffMs        int
	MaxBackoffMs          int
	UpdatedAt             *time.Time
}

const configFields = `version enabled discovery heartbeatIntervalMs missedHeartbeats defaultTimeoutSeconds
	defaultMaxRetries strategy faultTolerance thresholds { cpuPercent memoryPercent load1 } workers
	retentionSeconds retryBackoffMs maxBackoffMs updatedAt`

func TestUpdateConfig(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var before struct{ Config configView }
	e.must(t, `{ config { `+configFields+` } }`, nil, &before)
	def := archivist.DefaultConfig()
	if c := before.Config; c.Version != 0 || c.Workers != def.Workers || c.HeartbeatIntervalMs != 1000 ||
		c.DefaultTimeoutSeconds != def.DefaultTimeout.Seconds() || c.Strategy != "ROUND_ROBIN" || c.UpdatedAt != nil ||
		c.Thresholds.CPUPercent != def.Thresholds.CPUPercent || c.Discovery != "REGISTRY" {
		t.Fatalf("defaults: %+v", c)
	}

	const update = `mutation($in: ConfigInput!) { updateConfig(input: $in) { ` + configFields + ` } }`
	for _, bad := range []map[string]any{
		{"workers": 0},
		{"heartbeatIntervalMs": 5},
		{"defaultTimeoutSeconds": -1},
		{"thresholds": map[string]any{"cpuPercent": 101}},
		{"retryBackoffMs": 10000, "maxBackoffMs": 100},
		{"heartbeatIntervalMs": -1 << 62},
	} {
		wantError(t, e.post(t, update, map[string]any{"in": bad}), "BAD_USER_INPUT", "invalid config")
	}
	stored, err := e.store.Config(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if stored.Version != 0 {
		t.Fatalf("a refused update was stored: %v", stored)
	}

	var out struct{ UpdateConfig configView }
	e.must(t, update, map[string]any{"in": map[string]any{
		"workers": 8, "strategy": "LEAST_BUSY", "thresholds": map[string]any{"cpuPercent": 50},
		"defaultTimeoutSeconds": 30, "heartbeatIntervalMs": 250, "retentionSeconds": 3600,
	}}, &out)
	c := out.UpdateConfig
	if c.Version != 1 || c.Workers != 8 || c.Strategy != "LEAST_BUSY" || c.Thresholds.CPUPercent != 50 ||
		c.Thresholds.MemoryPercent != def.Thresholds.MemoryPercent || c.DefaultTimeoutSeconds != 30 ||
		c.HeartbeatIntervalMs != 250 || c.RetentionSeconds != 3600 || c.UpdatedAt == nil ||
		c.DefaultMaxRetries != def.DefaultMaxRetries {
		t.Fatalf("updated: %+v", c)
	}
	stored, err = e.store.Config(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if stored.Workers != 8 || stored.HeartbeatInterval != 250*time.Millisecond || stored.Version != 1 {
		t.Errorf("stored %v", stored)
	}
	// New submissions take the new defaults.
	var sub struct{ SubmitTask taskView }
	e.must(t, `mutation { submitTask(input: {type: "echo"}) { timeoutSeconds } }`, nil, &sub)
	if sub.SubmitTask.TimeoutSeconds != 30 {
		t.Errorf("timeout %v, want the new default 30", sub.SubmitTask.TimeoutSeconds)
	}

	// Mutations run in order: a field after updateConfig sees the change.
	var seq struct {
		Before, After struct{ TimeoutSeconds float64 }
	}
	e.must(t, `mutation {
		before: submitTask(input: {type: "echo"}) { timeoutSeconds }
		updateConfig(input: {defaultTimeoutSeconds: 42}) { version }
		after: submitTask(input: {type: "echo"}) { timeoutSeconds }
	}`, nil, &seq)
	if seq.Before.TimeoutSeconds != 30 || seq.After.TimeoutSeconds != 42 {
		t.Errorf("timeouts before and after the update: %+v", seq)
	}
}

// A change made between updateConfig's read and write is not lost: the
// update is made again on top of it.
func TestUpdateConfigRetriesOnConflict(t *testing.T) {
	t.Parallel()
	e := setup(t, func(r *graph.Resolver, _ *graph.HandlerOptions) {
		r.Store = &racingStore{Store: r.Store}
	})
	var out struct{ UpdateConfig configView }
	e.must(t, `mutation { updateConfig(input: {workers: 9}) { version workers strategy } }`, nil, &out)
	if out.UpdateConfig.Version != 2 || out.UpdateConfig.Workers != 9 || out.UpdateConfig.Strategy != "CAPABILITY_BASED" {
		t.Errorf("got %+v", out.UpdateConfig)
	}
}

// racingStore makes one concurrent config change before the first update.
type racingStore struct {
	archivist.Store
	raced bool
}

func (s *racingStore) UpdateConfig(ctx context.Context, cfg archivist.Config, prev int64) (archivist.Config, error) {
	if !s.raced {
		s.raced = true
		other, err := s.Store.Config(ctx)
		if err != nil {
			return other, err
		}
		other.Strategy = archivist.StrategyCapabilityBased
		if _, err := s.Store.UpdateConfig(ctx, other, other.Version); err != nil {
			return other, err
		}
	}
	return s.Store.UpdateConfig(ctx, cfg, prev)
}

type nodeView struct {
	ID            string
	Name          string
	Role          string
	Status        string
	Capabilities  []string
	TaskTypes     []string
	Workers       int
	IsLeader      bool
	LastHeartbeat time.Time
	ConfigVersion int
	Health        struct {
		CPUPercent float64
		Load15     float64
		SampledAt  *time.Time
	}
}

const nodeFields = `id name address role status capabilities taskTypes workers activeTasks isLeader lastHeartbeat
	startedAt version discovery configVersion health { cpuPercent memoryPercent load1 load5 load15 sampledAt }`

func TestNodes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := t.Context()
	now := e.clock.Now()
	for _, n := range []*archivist.Node{
		{ID: "n1", Name: "one", Role: archivist.RoleHybrid, Workers: 4, TaskTypes: []string{"echo"},
			Health: archivist.Health{CPUPercent: 12.5, Load15: 0.5, SampledAt: now}, LastHeartbeat: now, StartedAt: now},
		{ID: "n2", Name: "two", Role: archivist.RoleWorker, Busy: true, LastHeartbeat: now, StartedAt: now},
		{ID: "n3", Name: "three", Role: archivist.RoleWorker, LastHeartbeat: now.Add(-time.Hour), StartedAt: now.Add(-2 * time.Hour)},
	} {
		if _, err := e.store.Heartbeat(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.store.Campaign(ctx, "n1", time.Minute); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Nodes  []nodeView
		Leader *nodeView
	}
	e.must(t, `{ nodes { `+nodeFields+` } leader { id isLeader } }`, nil, &out)
	if len(out.Nodes) != 3 {
		t.Fatalf("nodes: %+v", out.Nodes)
	}
	n1, n2, n3 := out.Nodes[0], out.Nodes[1], out.Nodes[2]
	if n1.ID != "n1" || n1.Status != "ONLINE" || !n1.IsLeader || n1.Role != "HYBRID" || n1.Health.CPUPercent != 12.5 ||
		n1.Health.SampledAt == nil || len(n1.Capabilities) != 0 || n1.Capabilities == nil || len(n1.TaskTypes) != 1 {
		t.Errorf("n1: %+v", n1)
	}
	if n2.Status != "BUSY" || n2.IsLeader || n2.Health.SampledAt != nil {
		t.Errorf("n2: %+v", n2)
	}
	if n3.Status != "OFFLINE" {
		t.Errorf("n3: %+v", n3)
	}
	if out.Leader == nil || out.Leader.ID != "n1" || !out.Leader.IsLeader {
		t.Errorf("leader: %+v", out.Leader)
	}

	// A task placed on n1 resolves its node.
	var sub struct{ SubmitTask taskView }
	e.must(t, `mutation { submitTask(input: {type: "echo"}) { id } }`, nil, &sub)
	lease, err := e.store.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.AssignTasks(ctx, lease, []archivist.Assignment{{TaskID: sub.SubmitTask.ID, NodeID: "n1"}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	var task struct{ Task taskView }
	e.must(t, `query($id: ID!) { task(id: $id) { status nodeId node { id } assignedAt } }`, map[string]any{"id": sub.SubmitTask.ID}, &task)
	if task.Task.Status != "ASSIGNED" || task.Task.NodeID == nil || *task.Task.NodeID != "n1" || task.Task.Node == nil ||
		task.Task.Node.ID != "n1" || task.Task.AssignedAt == nil {
		t.Errorf("assigned task: %+v", task.Task)
	}

	// The lease runs out: no leader.
	e.clock.Advance(2 * time.Minute)
	var noLeader struct{ Leader *nodeView }
	e.must(t, `{ leader { id } }`, nil, &noLeader)
	if noLeader.Leader != nil {
		t.Errorf("leader after the lease ran out: %+v", noLeader.Leader)
	}
}

func TestDrainResumeRemove(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := t.Context()
	now := e.clock.Now()
	if _, err := e.store.Heartbeat(ctx, &archivist.Node{ID: "n1", Role: archivist.RoleWorker, LastHeartbeat: now}); err != nil {
		t.Fatal(err)
	}
	vars := map[string]any{"id": "n1"}
	var d struct{ DrainNode nodeView }
	e.must(t, `mutation($id: ID!) { drainNode(id: $id) { id status } }`, vars, &d)
	if d.DrainNode.Status != "DRAINING" {
		t.Errorf("drained: %+v", d.DrainNode)
	}
	// A heartbeat does not undo a drain.
	if _, err := e.store.Heartbeat(ctx, &archivist.Node{ID: "n1", Role: archivist.RoleWorker, LastHeartbeat: now}); err != nil {
		t.Fatal(err)
	}
	const remove = `mutation($id: ID!) { removeNode(id: $id) }`
	wantError(t, e.post(t, remove, vars), "CONFLICT", "DRAINING")

	var r struct{ ResumeNode nodeView }
	e.must(t, `mutation($id: ID!) { resumeNode(id: $id) { id status } }`, vars, &r)
	if r.ResumeNode.Status != "ONLINE" {
		t.Errorf("resumed: %+v", r.ResumeNode)
	}
	wantError(t, e.post(t, remove, vars), "CONFLICT", "ONLINE")

	// Silent for longer than missedHeartbeats intervals: OFFLINE, removable.
	e.clock.Advance(time.Duration(archivist.DefaultMissedHeartbeats+1) * archivist.DefaultHeartbeatInterval)
	var n struct{ Node *nodeView }
	e.must(t, `query($id: ID!) { node(id: $id) { status } }`, vars, &n)
	if n.Node == nil || n.Node.Status != "OFFLINE" {
		t.Fatalf("node: %+v", n.Node)
	}
	var rm struct{ RemoveNode bool }
	e.must(t, remove, vars, &rm)
	if !rm.RemoveNode {
		t.Error("removeNode returned false")
	}
	e.must(t, `query($id: ID!) { node(id: $id) { status } }`, vars, &n)
	if n.Node != nil {
		t.Errorf("removed node still there: %+v", n.Node)
	}
}

// faultyStore fails in ways a client must not see the details of.
type faultyStore struct{ archivist.Store }

func (faultyStore) ListNodes(context.Context) ([]*archivist.Node, error) {
	return nil, errors.New("open /var/secret/db: disk on fire")
}

func (faultyStore) CountTasks(context.Context) (map[archivist.TaskStatus]int, error) {
	panic("counting went wrong at /var/secret")
}

func (faultyStore) NodeLoads(context.Context) (map[string]int, error) {
	return nil, archivist.Errorf(archivist.CodeInternal, "store write failed: /var/secret is read-only")
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	t.Parallel()
	e := setup(t, func(r *graph.Resolver, _ *graph.HandlerOptions) {
		r.Store = faultyStore{r.Store}
	})
	r := e.post(t, `{ nodes { id } }`, nil)
	wantError(t, r, "INTERNAL")
	if r.Errors[0].Message != "internal error" {
		t.Errorf("message %q", r.Errors[0].Message)
	}
	r = e.post(t, `{ taskCounts { status } }`, nil)
	wantError(t, r, "INTERNAL")
	if r.Errors[0].Message != "internal error" || fmt.Sprint(r.Errors[0].Path) != "[taskCounts]" {
		t.Errorf("error %+v", r.Errors[0])
	}
	for _, r := range []gqlResponse{r, e.post(t, `{ nodes { id } }`, nil)} {
		raw, _ := json.Marshal(r.Errors)
		if strings.Contains(string(raw), "secret") {
			t.Errorf("internal detail leaked: %s", raw)
		}
	}
	logs := e.logs.String()
	for _, want := range []string{"disk on fire", "counting went wrong", "panic"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestHandlerLimits(t *testing.T) {
	t.Parallel()
	deep := `{ tasks { edges { node { node { health { cpuPercent } } } } } }` // 6 levels

	e := setup(t)
	e.must(t, deep, nil, nil)
	// The playground's introspection query passes the default limits.
	r := e.post(t, introspectionQuery, nil)
	if len(r.Errors) != 0 || !strings.Contains(string(r.Data), "DistributedTask") {
		t.Errorf("introspection: %+v", r.Errors)
	}

	limited := setup(t, func(_ *graph.Resolver, o *graph.HandlerOptions) {
		o.MaxDepth = 5
		o.DisableIntrospection = true
	})
	wantError(t, limited.post(t, deep, nil), "DEPTH_LIMIT_EXCEEDED", "6")
	if r := limited.post(t, `{ __schema { queryType { name } } }`, nil); len(r.Errors) == 0 {
		t.Error("introspection still on")
	}
	// Fragments count as the fields they hold.
	wantError(t, limited.post(t, `{ tasks { ...E } } fragment E on TaskConnection { edges { node { node { health { load1 } } } } }`, nil),
		"DEPTH_LIMIT_EXCEEDED")

	complex := setup(t, func(_ *graph.Resolver, o *graph.HandlerOptions) { o.ComplexityLimit = 5 })
	wantError(t, complex.post(t, `{ config { version enabled workers strategy discovery faultTolerance } }`, nil),
		"COMPLEXITY_LIMIT_EXCEEDED")

	// Subscriptions need a WebSocket.
	wantError(t, e.post(t, `subscription { configUpdated { version } }`, nil), "BAD_USER_INPUT", "WebSocket")

	// GET serves queries, not mutations.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+"?query=%7BtaskTypes%7D", nil)
	if r := doRequest(t, req); len(r.Errors) != 0 || !strings.Contains(string(r.Data), "echo") {
		t.Errorf("GET: %+v %s", r.Errors, r.Data)
	}
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet,
		e.srv.URL+`?query=mutation%7BsubmitTask(input:%7Btype:"echo"%7D)%7Bid%7D%7D`, nil)
	wantError(t, doRequest(t, req), "BAD_USER_INPUT", "GET")
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+"?query=%7BtaskTypes%7D&variables=%5B1%5D", nil)
	wantError(t, doRequest(t, req), "BAD_USER_INPUT", "variables")

	// Requests no transport takes still get a coded error.
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodPut, e.srv.URL, nil)
	if r := doRequest(t, req); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("PUT: status %d", r.Status)
	}
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL, strings.NewReader("{taskTypes}"))
	req.Header.Set("Content-Type", "text/plain")
	if r := doRequest(t, req); r.Status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain POST: status %d", r.Status)
	}
}

// introspectionQuery is the query GraphiQL sends (graphql-js
// getIntrospectionQuery with descriptions).
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}`

// TestSubmitDelayedAndUnique: runAt and delaySeconds give a SCHEDULED task
// with its due time; a held uniqueKey returns the holder with duplicate
// set, REPLACE cancels it; tasks of a schedule are found by filter.
func TestSubmitDelayedAndUnique(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const submit = `mutation($in: SubmitTaskInput!) { submitTask(input: $in) { id status runAt duplicate uniqueKey uniqueForSeconds createdAt } }`
	type view struct {
		ID               string
		Status           string
		RunAt            *time.Time
		Duplicate        bool
		UniqueKey        *string
		UniqueForSeconds float64
		CreatedAt        time.Time
	}
	do := func(in map[string]any) view {
		t.Helper()
		var out struct{ SubmitTask view }
		e.must(t, submit, map[string]any{"in": in}, &out)
		return out.SubmitTask
	}
	delayed := do(map[string]any{"type": "echo", "delaySeconds": 3600})
	if delayed.Status != "SCHEDULED" || delayed.RunAt == nil || delayed.RunAt.Sub(delayed.CreatedAt) != time.Hour {
		t.Errorf("delaySeconds 3600: %+v, want SCHEDULED an hour after its creation", delayed)
	}
	at := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	if v := do(map[string]any{"type": "echo", "runAt": at.Format(time.RFC3339)}); v.Status != "SCHEDULED" || v.RunAt == nil || !v.RunAt.Equal(at) {
		t.Errorf("runAt %s: %+v", at, v)
	}
	if v := do(map[string]any{"type": "echo", "runAt": "2001-01-01T00:00:00Z"}); v.Status == "SCHEDULED" || v.RunAt != nil {
		t.Errorf("runAt in the past: %+v, want it queued now", v)
	}
	var list struct {
		Tasks struct{ TotalCount int } `json:"tasks"`
	}
	e.must(t, `{ tasks(filter: {status: [SCHEDULED]}) { totalCount } }`, nil, &list)
	if list.Tasks.TotalCount != 2 {
		t.Errorf("tasks(status: SCHEDULED): %d, want 2", list.Tasks.TotalCount)
	}
	var cancelled struct{ CancelTask struct{ Status string } }
	e.must(t, `mutation($id: ID!) { cancelTask(id: $id) { status } }`, map[string]any{"id": delayed.ID}, &cancelled)
	if cancelled.CancelTask.Status != "CANCELLED" {
		t.Errorf("cancelTask of a SCHEDULED task: %s, want CANCELLED", cancelled.CancelTask.Status)
	}

	first := do(map[string]any{"type": "echo", "uniqueKey": "thumb:7", "delaySeconds": 600, "uniqueForSeconds": 30})
	if first.Duplicate || first.UniqueKey == nil || *first.UniqueKey != "thumb:7" || first.UniqueForSeconds != 30 {
		t.Errorf("first submission of a key: %+v", first)
	}
	dup := do(map[string]any{"type": "echo", "uniqueKey": "thumb:7"})
	if !dup.Duplicate || dup.ID != first.ID || dup.Status != "SCHEDULED" {
		t.Errorf("second submission of the key: %+v, want the first task with duplicate: true", dup)
	}
	var again struct{ Task struct{ Duplicate bool } }
	e.must(t, `query($id: ID!) { task(id: $id) { duplicate } }`, map[string]any{"id": first.ID}, &again)
	if again.Task.Duplicate {
		t.Error("task(id) shows duplicate: true; it is only on the answer to a duplicate submission")
	}
	repl := do(map[string]any{"type": "echo", "uniqueKey": "thumb:7", "onDuplicate": "REPLACE", "delaySeconds": 600})
	if repl.Duplicate || repl.ID == first.ID || repl.Status != "SCHEDULED" {
		t.Errorf("REPLACE: %+v, want a new SCHEDULED task", repl)
	}
	var old struct{ Task struct{ Status string } }
	e.must(t, `query($id: ID!) { task(id: $id) { status } }`, map[string]any{"id": first.ID}, &old)
	if old.Task.Status != "CANCELLED" {
		t.Errorf("the replaced task is %s, want CANCELLED", old.Task.Status)
	}
	// A batch: the second of one key is the first's duplicate.
	var batch struct{ SubmitTasks []view }
	e.must(t, `mutation($in: [SubmitTaskInput!]!) { submitTasks(inputs: $in) { id duplicate } }`,
		map[string]any{"in": []map[string]any{{"type": "echo", "uniqueKey": "b"}, {"type": "echo", "uniqueKey": "b"}}}, &batch)
	if len(batch.SubmitTasks) != 2 || batch.SubmitTasks[0].Duplicate || !batch.SubmitTasks[1].Duplicate ||
		batch.SubmitTasks[0].ID != batch.SubmitTasks[1].ID {
		t.Errorf("a batch with one key twice: %+v", batch.SubmitTasks)
	}
}
