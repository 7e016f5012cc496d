package cli

import (
	"encoding/json"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist/client"
)

// update reads the stored schedule and changes only what its flags name.
func TestScheduleUpdateKeepsTheRest(t *testing.T) {
	t.Parallel()
	backoff := 1500
	stored := &client.Schedule{Name: "nightly", Cron: "0 3 * * *", Timezone: "Europe/Paris", Overlap: "SKIP", Misfire: "SKIP",
		Task: client.ScheduleTask{Type: "echo", Input: json.RawMessage(`{"a":1}`), Priority: "HIGH", TimeoutSeconds: 45,
			MaxRetries: 2, RetryBackoffMs: &backoff, UniqueKey: "nightly", UniqueForSeconds: 3600, OnDuplicate: "REPLACE"}}
	parse := func(args ...string) (*scheduleFlags, map[string]bool) {
		t.Helper()
		var f scheduleFlags
		fs := flag.NewFlagSet("schedule", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f.add(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		given := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
		return &f, given
	}

	f, given := parse("--every", "90s", "--priority", "low")
	spec := specOf(stored)
	if err := f.apply(&spec, given); err != nil {
		t.Fatal(err)
	}
	retries := 2
	want := client.ScheduleSpec{Name: "nightly", Every: 90 * time.Second, Overlap: "SKIP", Misfire: "SKIP",
		Task: client.TaskSpec{Type: "echo", Input: json.RawMessage(`{"a":1}`), Priority: "LOW", Timeout: 45 * time.Second,
			MaxRetries: &retries, RetryBackoff: 1500 * time.Millisecond, UniqueKey: "nightly", UniqueFor: time.Hour,
			OnDuplicate: "REPLACE"}}
	if d := cmp.Diff(want, spec); d != "" {
		t.Errorf("spec (-want +got):\n%s", d)
	}

	// The unique key: changed alone, turned to RETURN_EXISTING, removed.
	for _, c := range []struct {
		args       []string
		key, onDup string
		uniqueFor  time.Duration
	}{
		{[]string{"--unique", "weekly"}, "weekly", "REPLACE", time.Hour},
		{[]string{"--replace=false"}, "nightly", "", time.Hour},
		{[]string{"--unique", ""}, "", "", 0},
	} {
		f, given := parse(c.args...)
		spec := specOf(stored)
		if err := f.apply(&spec, given); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if spec.Task.UniqueKey != c.key || spec.Task.OnDuplicate != c.onDup || spec.Task.UniqueFor != c.uniqueFor {
			t.Errorf("%v: key %q onDuplicate %q for %s; want %q %q %s", c.args, spec.Task.UniqueKey, spec.Task.OnDuplicate,
				spec.Task.UniqueFor, c.key, c.onDup, c.uniqueFor)
		}
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--cron", "* * * * *", "--every", "1m"}, "give --cron or --every, not both"},
		{[]string{"--every", "1m", "--timezone", "UTC"}, "--timezone goes with --cron"},
		{[]string{"--misfire", "never"}, `--misfire "never": use one of run-once, skip`},
		{[]string{"--priority", "urgent"}, `--priority "urgent": use one of low, normal, high, critical`},
		{[]string{"--input", "{nope"}, "--input: not valid JSON"},
		{[]string{"--max-retries", "-2"}, "--max-retries must not be negative"},
		{[]string{"--unique", "", "--replace"}, "--unique-for and --replace need --unique"},
	} {
		f, given := parse(c.args...)
		spec := specOf(stored)
		err := f.apply(&spec, given)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}
