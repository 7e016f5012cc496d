package main

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/testkit"
)

// TestCLIDelayedAndUnique: submit --in/--at make a task SCHEDULED until
// its time, then it runs; --unique returns the task holding the key
// (several clients at once get one task), --replace cancels it; bad
// combinations are refused before anything is sent.
func TestCLIDelayedAndUnique(t *testing.T) {
	n := startNode(t, "--store", "memory", "--node-id", "later-node")
	type view struct {
		ID, Status       string
		Duplicate        bool
		UniqueKey        string
		RunAt            *time.Time
		CreatedAt        time.Time
		StartedAt        *time.Time
		CancelRequested  bool
		UniqueForSeconds float64
		Result           json.RawMessage
	}
	run := func(args ...string) (view, string) {
		t.Helper()
		out, errOut, code := cli(t, n, append([]string{"submit"}, append(args, "-o", "json")...)...)
		var v view
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
			t.Fatalf("archivist submit %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
		return v, errOut
	}
	get := func(id string) view {
		t.Helper()
		out, errOut, code := cli(t, n, "tasks", "get", id)
		var v view
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
			t.Fatalf("tasks get %s: exit %d %q %q", id, code, out, errOut)
		}
		return v
	}

	// --in: SCHEDULED with its due time, listed as such, then it runs.
	later, note := run("echo", "--input", `"later"`, "--in", "1500ms")
	if later.Status != "SCHEDULED" || later.RunAt == nil || later.RunAt.Sub(later.CreatedAt) != 1500*time.Millisecond {
		t.Fatalf("submit --in 1500ms: %s due %v after %s; want SCHEDULED 1.5s after its creation", later.Status, later.RunAt, later.CreatedAt)
	}
	if !strings.Contains(note, "scheduled for") {
		t.Errorf("submit --in says nothing of when: %q", note)
	}
	if out, _, code := cli(t, n, "tasks", "list", "--status", "scheduled"); code != 0 || !strings.Contains(out, later.ID) || !strings.Contains(out, "SCHEDULED (in ") {
		t.Errorf("tasks list --status scheduled: exit %d\n%s", code, out)
	}
	var done view
	testkit.Eventually(t, 20*time.Second, func() bool { done = get(later.ID); return done.Status == "COMPLETED" }, "the delayed task to complete")
	if done.StartedAt == nil || done.StartedAt.Before(*later.RunAt) {
		t.Errorf("the delayed task started at %v, before its time %v", done.StartedAt, later.RunAt)
	}
	// --at in the past is now; --wait follows a delayed task to its end.
	if v, _ := run("echo", "--input", `"now"`, "--at", time.Now().Add(-time.Hour).Format(time.RFC3339), "--wait"); v.Status != "COMPLETED" {
		t.Errorf("submit --at (an hour ago) --wait: %s, want COMPLETED", v.Status)
	}
	if v, _ := run("echo", "--in", "1s", "--wait"); v.Status != "COMPLETED" {
		t.Errorf("submit --in 1s --wait: %s, want COMPLETED", v.Status)
	}

	// --unique from several clients at once: one task.
	const clients = 6
	var wg sync.WaitGroup
	got := make([]string, clients)
	for i := range clients {
		wg.Go(func() {
			out, _, code := cli(t, n, "submit", "sleep", "--input", `{"ms": 60000}`, "--unique", "thumb:handout-7")
			if code == 0 {
				got[i] = strings.TrimSpace(out)
			}
		})
	}
	wg.Wait()
	for i := range got {
		if got[i] == "" || got[i] != got[0] {
			t.Fatalf("clients submitting one unique key got ids %v, want one and the same", got)
		}
	}
	dup, note := run("sleep", "--input", `{"ms": 60000}`, "--unique", "thumb:handout-7")
	if !dup.Duplicate || dup.ID != got[0] || !strings.Contains(note, "already exists") {
		t.Errorf("a second submission of the key: id %s duplicate %v note %q; want %s, a duplicate, said so", dup.ID, dup.Duplicate, note, got[0])
	}
	// --replace: the holder is cancelled, the new task holds the key.
	repl, _ := run("sleep", "--input", `{"ms": 1}`, "--unique", "thumb:handout-7", "--replace", "--unique-for", "1h")
	if repl.Duplicate || repl.ID == got[0] || repl.UniqueForSeconds != 3600 {
		t.Errorf("--replace: id %s duplicate %v unique-for %v; want a new task holding the key for 1h", repl.ID, repl.Duplicate, repl.UniqueForSeconds)
	}
	if old := get(got[0]); old.Status != "CANCELLED" && !old.CancelRequested {
		t.Errorf("the replaced task is %s (cancel requested %v), want it cancelled", old.Status, old.CancelRequested)
	}
	testkit.Eventually(t, 20*time.Second, func() bool { return get(repl.ID).Status == "COMPLETED" }, "the replacing task to complete")
	// Finished, it keeps the key for its hour.
	if again, _ := run("sleep", "--input", `{"ms": 1}`, "--unique", "thumb:handout-7"); !again.Duplicate || again.ID != repl.ID {
		t.Errorf("the key an hour after: %s duplicate %v; want the finished task %s", again.ID, again.Duplicate, repl.ID)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--in", "1s", "--at", "2030-01-01T00:00:00Z"}, 2, "--in or --at, not both"},
		{[]string{"--in", "soon"}, 2, "want a duration"},
		{[]string{"--in", "-5s"}, 2, "want a duration"},
		{[]string{"--at", "tomorrow"}, 2, "want a time such as"},
		{[]string{"--unique-for", "1h"}, 2, "need --unique"},
		{[]string{"--replace"}, 2, "need --unique"},
		{[]string{"--in", "9000h"}, 1, "BAD_USER_INPUT"},
		{[]string{"--unique", "k", "--unique-for", "800h"}, 1, "BAD_USER_INPUT"},
	} {
		_, errOut, code := cli(t, n, append([]string{"submit", "echo"}, c.args...)...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("submit %v: exit %d %q; want exit %d mentioning %q", c.args, code, errOut, c.code, c.want)
		}
	}
}
