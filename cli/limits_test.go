package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeAPI answers GraphQL requests with canned data, chosen by the first
// field the query names, and records the variables of each request: the
// CLI's side (flags, requests, output) is checked here; the API's in graph
// and cmd/archivist.
type fakeAPI struct {
	mu      sync.Mutex
	answers map[string]string // field -> JSON of the response
	calls   []fakeCall
}

type fakeCall struct {
	field string
	vars  map[string]any
}

func (f *fakeAPI) start(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Query     string         `json:"query"`
			Variables map[string]any `json:"variables"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		for field, answer := range f.answers {
			if strings.Contains(req.Query, field+"(") || strings.Contains(req.Query, "{ "+field+" ") {
				f.calls = append(f.calls, fakeCall{field, req.Variables})
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, answer)
				return
			}
		}
		http.Error(w, "unexpected query "+req.Query, http.StatusBadRequest)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (f *fakeAPI) run(t *testing.T, url string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := Env{Getenv: func(k string) string {
		if k == "ARCHIVIST_SERVER" {
			return url
		}
		return ""
	}, Stdout: &out, Stderr: &errOut}
	code, ok := Run(args, env)
	if !ok {
		t.Fatalf("Run(%q) is not a command", args)
	}
	return out.String(), errOut.String(), code
}

func TestLimitsCommand(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{answers: map[string]string{
		"setLimit": `{"data":{"setLimit":{"id":"type=sleep,group=*","taskType":"sleep","group":"*","maxConcurrent":2,
			"ratePerSecond":1.5,"burst":2,"running":0,"held":0,"groups":[],"createdAt":"2026-12-07T06:00:00Z","updatedAt":"2026-12-07T06:00:00Z"}}}`,
		"limits": `{"data":{"limits":[
			{"id":"group=campaign-7","taskType":null,"group":"campaign-7","maxConcurrent":null,"ratePerSecond":5,"burst":10,
			 "running":0,"held":3,"groups":[],"createdAt":"2026-12-07T06:00:00Z","updatedAt":"2026-12-07T06:00:00Z"},
			{"id":"type=sleep,group=*","taskType":"sleep","group":"*","maxConcurrent":2,"ratePerSecond":null,"burst":null,
			 "running":3,"held":4,"groups":[{"group":"a","running":2,"held":4},{"group":"b","running":1,"held":0}],
			 "createdAt":"2026-12-07T06:00:00Z","updatedAt":"2026-12-07T06:00:00Z"}]}}`,
		"deleteLimit": `{"data":{"deleteLimit":true}}`,
	}}
	url := api.start(t)

	out, errOut, code := api.run(t, url, "limits", "set", "--type", "sleep", "--group", "*", "--max-concurrent", "2", "--rate", "1.5")
	if code != 0 {
		t.Fatalf("limits set: code %d: %s", code, errOut)
	}
	if !strings.Contains(out, "MAX CONCURRENT") || !strings.Contains(out, "type=sleep,group=*") || !strings.Contains(out, "* (each)") {
		t.Errorf("limits set printed:\n%s", out)
	}
	if got, want := api.calls[0].vars["in"], map[string]any{"taskType": "sleep", "group": "*", "maxConcurrent": 2.0, "ratePerSecond": 1.5}; !equalJSON(got, want) {
		t.Errorf("setLimit input = %v, want %v", got, want)
	}

	out, errOut, code = api.run(t, url, "limits", "list")
	if code != 0 {
		t.Fatalf("limits list: code %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("limits list: want a header, 2 limits and 2 groups:\n%s", out)
	}
	for i, want := range [][]string{
		{"ID", "TYPE", "GROUP", "RUNNING", "HELD"},
		{"group=campaign-7", "-", "campaign-7", "5", "10", "0", "3"},
		{"type=sleep,group=*", "sleep", "* (each)", "2", "-", "3/2", "4"},
		{"a", "2/2", "4"},
		{"b", "1/2", "0"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
	}

	out, _, code = api.run(t, url, "limits", "list", "-o", "json")
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 || list[1]["maxConcurrent"] != 2.0 {
		t.Errorf("limits list -o json: code %d:\n%s", code, out)
	}

	out, errOut, code = api.run(t, url, "limits", "delete", "type=sleep,group=*")
	if code != 0 || !strings.Contains(out, "deleted limit type=sleep,group=*") {
		t.Errorf("limits delete: code %d: %s%s", code, out, errOut)
	}
	if last := api.calls[len(api.calls)-1]; last.field != "deleteLimit" || last.vars["id"] != "type=sleep,group=*" {
		t.Errorf("delete sent %+v", last)
	}

	// Mistakes in the command line: exit 2, nothing sent.
	sent := len(api.calls)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"limits"}, "want a subcommand: list, set or delete"},
		{[]string{"limits", "raise"}, `unknown subcommand "raise"`},
		{[]string{"limits", "set", "--max-concurrent", "2"}, "set wants --type, --group or both"},
		{[]string{"limits", "set", "--type", "sleep"}, "set wants --max-concurrent, --rate or both"},
		{[]string{"limits", "set", "--type", "sleep", "--max-concurrent", "0"}, "--max-concurrent must be at least 1"},
		{[]string{"limits", "set", "--type", "sleep", "--max-concurrent", "2", "--burst", "3"}, "--burst goes with --rate"},
		{[]string{"limits", "set", "--type", "sleep", "--rate", "2", "--burst", "0"}, "--burst must be at least 1"},
		{[]string{"limits", "set", "--type", "sleep", "--rate", "fast"}, "not a number"},
		{[]string{"limits", "set", "--type", "sleep", "--rate", "-1"}, "must be above 0"},
		{[]string{"limits", "set", "--type", " ", "--rate", "1"}, "--type must not be empty"},
		{[]string{"limits", "set", "extra", "--type", "sleep", "--rate", "1"}, "set takes flags only"},
		{[]string{"limits", "list", "--type", "sleep"}, "--type goes with set, not list"},
		{[]string{"limits", "delete"}, "delete wants one limit id"},
	} {
		_, errOut, code := api.run(t, url, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: code %d, stderr %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
	if len(api.calls) != sent {
		t.Errorf("mistaken command lines sent %d requests", len(api.calls)-sent)
	}
}

func TestLimitsCommandErrors(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{answers: map[string]string{
		"setLimit":    `{"errors":[{"message":"unknown task type \"thumb\"; known types: echo, sleep","extensions":{"code":"BAD_USER_INPUT"}}],"data":null}`,
		"deleteLimit": `{"errors":[{"message":"no limit \"type=thumb\"","extensions":{"code":"NOT_FOUND"}}],"data":null}`,
		"limits":      `{"data":{"limits":[]}}`,
	}}
	url := api.start(t)
	_, errOut, code := api.run(t, url, "limits", "set", "--type", "thumb", "--max-concurrent", "2")
	if code != 1 || !strings.Contains(errOut, "known types: echo, sleep") || !strings.Contains(errOut, "BAD_USER_INPUT") {
		t.Errorf("set of an unknown type: code %d: %s", code, errOut)
	}
	_, errOut, code = api.run(t, url, "limits", "delete", "type=thumb")
	if code != 1 || !strings.Contains(errOut, "NOT_FOUND") {
		t.Errorf("delete of no limit: code %d: %s", code, errOut)
	}
	out, _, code := api.run(t, url, "limits", "list")
	if code != 0 || !strings.Contains(out, "no limits") {
		t.Errorf("empty list: code %d: %s", code, out)
	}
}

func TestTypesCommand(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{answers: map[string]string{
		"taskTypeStates": `{"data":{"taskTypeStates":[{"type":"echo","paused":false},{"type":"sleep","paused":true}]}}`,
		"pauseTaskType":  `{"data":{"pauseTaskType":true}}`,
		"resumeTaskType": `{"data":{"resumeTaskType":false}}`,
	}}
	url := api.start(t)
	out, errOut, code := api.run(t, url, "types", "list")
	if code != 0 {
		t.Fatalf("types list: code %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "TYPE PAUSED" ||
		strings.Join(strings.Fields(lines[1]), " ") != "echo no" || strings.Join(strings.Fields(lines[2]), " ") != "sleep yes" {
		t.Errorf("types list:\n%s", out)
	}
	out, _, code = api.run(t, url, "types", "pause", "sleep")
	if code != 0 || !strings.Contains(out, "paused sleep") {
		t.Errorf("types pause: code %d: %s", code, out)
	}
	if last := api.calls[len(api.calls)-1]; last.field != "pauseTaskType" || last.vars["t"] != "sleep" {
		t.Errorf("pause sent %+v", last)
	}
	out, _, code = api.run(t, url, "task-types", "resume", "sleep")
	if code != 0 || !strings.Contains(out, "sleep was not paused") {
		t.Errorf("types resume of a running type: code %d: %s", code, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"types"}, "want a subcommand: list, pause or resume"},
		{[]string{"types", "pause"}, "pause wants one task type"},
		{[]string{"types", "resume", "a", "b"}, "resume wants one task type"},
		{[]string{"types", "stop", "sleep"}, `unknown subcommand "stop"`},
	} {
		_, errOut, code := api.run(t, url, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: code %d, stderr %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
