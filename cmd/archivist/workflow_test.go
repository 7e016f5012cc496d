package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// submittedID is the workflow id that workflow submit --wait names on
// stderr.
var submittedID = regexp.MustCompile(`workflow (\S+) \(`)

type cliWorkflow struct {
	ID, Name, Status, Error string
	Progress                float64
	Steps                   []struct {
		Key     string
		AddedBy string
		Task    *struct{ ID, Status, Type string }
	}
}

func (w cliWorkflow) task(t *testing.T, key string) string {
	t.Helper()
	for _, s := range w.Steps {
		if s.Key == key && s.Task != nil {
			return s.Task.ID
		}
	}
	t.Fatalf("workflow %s has no step %s: %+v", w.ID, key, w.Steps)
	return ""
}

// The session example runs to the end on a node started with the defaults
// (the embedded store), and its merge step holds the campaign index.
func TestCLIWorkflowSessionExample(t *testing.T) {
	t.Parallel() // its own node(s), store and ports: it can run beside the others (see e2e_test.go)
	n := startNode(t)
	out, errOut, code := cli(t, n, "workflow", "submit", "../../examples/session-ingest.yaml", "--wait")
	if code != 0 {
		t.Fatalf("workflow submit --wait: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if !strings.Contains(out, "COMPLETED") || !strings.Contains(out, "merge") {
		t.Errorf("final view: %s", out)
	}
	// The live view named each step's status as it changed.
	for _, want := range []string{"notes: COMPLETED", "index: COMPLETED", "entities: COMPLETED", "summary: COMPLETED", "merge: COMPLETED"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("live view lacks %q:\n%s", want, errOut)
		}
	}
	m := submittedID.FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("no workflow id in %q", errOut)
	}
	show, errOut, code := cli(t, n, "workflow", "show", m[1], "-o", "json")
	if code != 0 {
		t.Fatalf("workflow show: %d %s", code, errOut)
	}
	var w cliWorkflow
	if err := json.Unmarshal([]byte(show), &w); err != nil {
		t.Fatal(err)
	}
	if w.Status != "COMPLETED" || w.Progress != 1 || len(w.Steps) != 5 {
		t.Fatalf("workflow %+v", w)
	}
	got, errOut, code := cli(t, n, "tasks", "get", w.task(t, "merge"))
	if code != 0 {
		t.Fatalf("tasks get: %d %s", code, errOut)
	}
	var merge struct {
		Result struct {
			Name       string
			Sources    []string
			Terms      []struct{ Term string }
			Characters []struct{ Name string }
			Places     []struct{ Name string }
			Summaries  []struct{ Source, Summary string }
		}
	}
	if err := json.Unmarshal([]byte(got), &merge); err != nil {
		t.Fatal(err)
	}
	r := merge.Result
	if r.Name != "The Drowned Moon" || strings.Join(r.Sources, ",") != "entities,index,summary" || len(r.Terms) == 0 ||
		len(r.Summaries) != 1 || r.Summaries[0].Source != "summary" || r.Summaries[0].Summary == "" {
		t.Errorf("campaign index %+v", r)
	}
	if !strings.Contains(fmt.Sprint(r.Characters), "Lady Elowen Varr") || !strings.Contains(fmt.Sprint(r.Places), "Thornwall Keep") {
		t.Errorf("characters %v places %v", r.Characters, r.Places)
	}
	// The steps are tasks of the workflow.
	if list, _, _ := cli(t, n, "tasks", "list", "--workflow", w.ID); strings.Count(list, "COMPLETED") != 5 {
		t.Errorf("tasks list --workflow:\n%s", list)
	}
	if list, _, _ := cli(t, n, "workflow", "list", "--status", "completed"); !strings.Contains(list, w.ID) {
		t.Errorf("workflow list:\n%s", list)
	}
}

// The handouts example fans out: a thumbnail step per image of the
// handouts folder, then an index page of them.
func TestCLIWorkflowHandoutsExample(t *testing.T) {
	dir := t.TempDir()
	names := []string{"map.png", "letter.png", "portrait of Elowen.png"}
	for i, name := range names {
		img := image.NewNRGBA(image.Rect(0, 0, 300+100*i, 200))
		for x := range img.Bounds().Dx() {
			for y := range 200 {
				img.Set(x, y, color.NRGBA{uint8(x), uint8(y), uint8(40 * i), 255})
			}
		}
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := startNodeEnv(t, []string{"ARCHIVIST_HANDOUTS_DIR=" + dir})
	out, errOut, code := cli(t, n, "workflow", "submit", "../../examples/handouts.yaml", "--wait", "-o", "json")
	if code != 0 {
		t.Fatalf("workflow submit --wait: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	var w cliWorkflow
	if err := json.Unmarshal([]byte(out), &w); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// The scan, a thumbnail per image, the index.
	if w.Status != "COMPLETED" || len(w.Steps) != 2+len(names) {
		t.Fatalf("workflow %+v", w)
	}
	for _, s := range w.Steps[2:] {
		if s.Task == nil || s.Task.Type != "image.thumbnail" || s.Task.Status != "COMPLETED" || s.AddedBy != "scan" {
			t.Errorf("added step %+v", s)
		}
	}
	// workflow show names the step that added each one.
	shown, _, code := cli(t, n, "workflow", "show", w.ID)
	if code != 0 || !strings.Contains(shown, "ADDED BY") || strings.Count(shown, " scan ") < len(names) {
		t.Errorf("workflow show (exit %d) does not say the thumbnails were added by scan:\n%s", code, shown)
	}
	got, _, code := cli(t, n, "tasks", "get", w.task(t, "index"))
	if code != 0 {
		t.Fatal("tasks get")
	}
	var index struct {
		Result struct {
			Title    string
			Handouts []struct {
				Name      string
				Thumbnail struct{ Width, Height int }
			}
			HTML string
		}
	}
	if err := json.Unmarshal([]byte(got), &index); err != nil {
		t.Fatal(err)
	}
	r := index.Result
	if r.Title != "Session 12 handouts" || len(r.Handouts) != len(names) || !strings.Contains(r.HTML, "portrait of Elowen.png") {
		t.Errorf("index %+v", r.Handouts)
	}
	for _, h := range r.Handouts {
		if max(h.Thumbnail.Width, h.Thumbnail.Height) != 256 {
			t.Errorf("thumbnail of %s: %+v", h.Name, h.Thumbnail)
		}
	}
}

// A failing workflow makes --wait exit 1; retry, cancel, list and a bad
// file.
func TestCLIWorkflowFailureAndFiles(t *testing.T) {
	t.Parallel() // its own node(s), store and ports: it can run beside the others (see e2e_test.go)
	n := startNode(t, "--store", "memory", "--node-id", "workflow-node")
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	failing := write("fail.yaml", `name: doomed
steps:
  - key: first
    type: echo
    input: {x: 1}
  - key: breaks
    dependsOn: [first]
    type: fail
    input: {times: 1, permanent: true, message: the scroll burned}
  - key: never
    dependsOn: [breaks]
    type: echo
`)
	out, errOut, code := cli(t, n, "workflow", "submit", failing, "--wait")
	if code != 1 || !strings.Contains(errOut, "FAILED") || !strings.Contains(errOut, "the scroll burned") {
		t.Fatalf("failing workflow: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	id := submittedID.FindStringSubmatch(errOut)[1]
	if list, _, _ := cli(t, n, "workflow", "list", "--status", "failed"); !strings.Contains(list, id) || !strings.Contains(list, "doomed") {
		t.Errorf("workflow list --status failed:\n%s", list)
	}
	show, _, code := cli(t, n, "workflow", "show", id)
	if code != 0 || !strings.Contains(show, "breaks") || !strings.Contains(show, "CANCELLED") || !strings.Contains(show, "the scroll burned") {
		t.Errorf("workflow show:\n%s", show)
	}
	// Retry runs again what did not complete: the fail step fails again
	// (its attempts start over), the first keeps its result.
	if out, errOut, code := cli(t, n, "workflow", "retry", id); code != 0 || !strings.Contains(out, "RUNNING") {
		t.Errorf("workflow retry: %d\n%s%s", code, out, errOut)
	}

	// cancel stops a running one.
	long := write("long.yaml", "name: long\nsteps:\n  - key: wait\n    type: sleep\n    input: {ms: 60000}\n")
	out, errOut, code = cli(t, n, "workflow", "submit", long)
	if code != 0 {
		t.Fatalf("submit: %d %s", code, errOut)
	}
	longID := strings.TrimSpace(out)
	if out, errOut, code := cli(t, n, "workflow", "cancel", longID); code != 0 || !strings.Contains(out, "CANCELLED") {
		t.Errorf("workflow cancel: %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := cli(t, n, "workflow", "cancel", longID); code != 1 || !strings.Contains(errOut, "CONFLICT") {
		t.Errorf("cancel twice: %d %s", code, errOut)
	}

	// A bad file names its line; a graph the server refuses too.
	bad := write("bad.yaml", "name: bad\nsteps:\n  - key: a\n    type: echo\n    dependson: [b]\n")
	if _, errOut, code := cli(t, n, "workflow", "submit", bad); code != 1 || !strings.Contains(errOut, "bad.yaml:5:5: unknown field \"dependson\"") {
		t.Errorf("bad file: %d %s", code, errOut)
	}
	cycle := write("cycle.yaml", "name: c\nsteps:\n  - key: a\n    type: echo\n    dependsOn: [b]\n  - key: b\n    type: echo\n    dependsOn: [a]\n")
	if _, errOut, code := cli(t, n, "workflow", "submit", cycle); code != 1 || !strings.Contains(errOut, "cycle") || !strings.Contains(errOut, "BAD_USER_INPUT") {
		t.Errorf("cycle: %d %s", code, errOut)
	}
	unknown := write("unknown.yaml", "name: u\nsteps:\n  - key: a\n    type: echo\n  - key: b\n    type: no.such.type\n")
	if _, errOut, code := cli(t, n, "workflow", "submit", unknown); code != 1 || !strings.Contains(errOut, "unknown.yaml:5: step b") {
		t.Errorf("unknown type: %d %s", code, errOut)
	}
	if _, errOut, code := cli(t, n, "workflow", "submit", filepath.Join(dir, "missing.yaml")); code != 1 || !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("missing file: %d %s", code, errOut)
	}
	// Bad flags exit 2.
	if _, errOut, code := cli(t, n, "workflow", "submit", failing, "--status", "failed"); code != 2 || !strings.Contains(errOut, "--status goes with list") {
		t.Errorf("bad flag: %d %s", code, errOut)
	}
}
