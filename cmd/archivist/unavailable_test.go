package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// logLinesSince returns the lines n logged after the first `skip` bytes.
func logLinesSince(n *node, skip int) []string {
	logs := n.logs.String()
	if skip > len(logs) {
		skip = len(logs)
	}
	return strings.FieldsFunc(logs[skip:], func(r rune) bool { return r == '\n' })
}

func countLines(lines []string, substr string) int {
	c := 0
	for _, l := range lines {
		if strings.Contains(l, substr) {
			c++
		}
	}
	return c
}

// TestStoreUnavailable: while Redis is down, queries, mutations and the CLI
// fail with UNAVAILABLE naming the store (never its password), /readyz
// answers 503, and each node logs one line when it loses Redis and one when
// it has it back, with no flood in between; afterwards everything answers
// and no node was called offline for the heartbeats it could not write.
func TestStoreUnavailable(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	const pass = "s3cret-redis-pw"
	// A user of its own with a password (the default user stays open for
	// redistest's own checks).
	r := redistest.Start(t, "--user", "archivist", "on", ">"+pass, "~*", "&*", "+@all")
	url := "redis://archivist:" + pass + "@" + r.Addr + "/0"
	a := startNode(t, clusterArgs(url, "a")...)
	b := startNode(t, clusterArgs(url, "b")...)
	testkit.Eventually(t, 20*time.Second, func() bool { return len(onlineNodes(t, a)) == 2 }, "two online nodes")
	storeName := "the Redis store at " + r.Addr

	mark := map[*node]int{a: len(a.logs.String()), b: len(b.logs.String())}
	r.Kill()
	waitLog(t, a, 15*time.Second, "a to say it lost the store", "lost the store", storeName)
	waitLog(t, b, 15*time.Second, "b to say it lost the store", "lost the store", storeName)

	noSecret := func(what, s string) {
		t.Helper()
		if strings.Contains(s, pass) {
			t.Errorf("%s shows the Redis password: %s", what, s)
		}
	}
	for _, q := range []string{
		`{"query":"{ nodes { id status } }"}`,
		`{"query":"{ tasks(first: 5) { totalCount } }"}`,
		`{"query":"mutation { submitTask(input: {type: \"echo\", input: 1}) { id } }"}`,
	} {
		_, resp := a.post(t, q)
		if resp.code() != "UNAVAILABLE" || !strings.Contains(resp.Errors[0].Message, storeName+" cannot be reached") {
			t.Errorf("%s with Redis down: %+v, want UNAVAILABLE naming %s", q, resp.Errors, storeName)
		}
		noSecret(q, resp.Errors[0].Message)
	}
	res, body := a.call(t, "GET", "/readyz", "", "", nil)
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, storeName) {
		t.Errorf("/readyz with Redis down: %d %s, want 503 naming the store", res.StatusCode, body)
	}
	noSecret("/readyz", body)
	_, stderr, code := cli(t, a, "nodes", "list")
	if code == 0 || !strings.Contains(stderr, "UNAVAILABLE") || !strings.Contains(stderr, storeName) {
		t.Errorf("archivist nodes list with Redis down: exit %d, %s", code, stderr)
	}
	noSecret("the CLI", stderr)

	// Several seconds of outage: heartbeats (every 200 ms), the elector, the
	// scheduler, the worker pool and the event reader all fail meanwhile.
	time.Sleep(4 * time.Second)
	for _, n := range []*node{a, b} {
		lines := logLinesSince(n, mark[n])
		if c := countLines(lines, "lost the store"); c != 1 {
			t.Errorf("%s logged %d lines about losing the store, want 1", n.addr, c)
		}
		var loud []string
		for _, l := range lines {
			if (strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR")) && !strings.Contains(l, "lost the store") {
				loud = append(loud, l)
			}
		}
		if len(loud) > 2 || len(lines) > 8 {
			t.Errorf("%s logged %d lines (%d warnings or errors besides the loss) in 4 s of outage, want a quiet log:\n%s",
				n.addr, len(lines), len(loud), strings.Join(lines, "\n"))
		}
		for _, l := range lines {
			noSecret("the log", l)
		}
	}

	r.Restart()
	waitLog(t, a, 20*time.Second, "a to say the store is back", "store reachable again", storeName)
	waitLog(t, b, 20*time.Second, "b to say the store is back", "store reachable again", storeName)
	testkit.Eventually(t, 10*time.Second, func() bool {
		res, _ := a.call(t, "GET", "/readyz", "", "", nil)
		return res.StatusCode == http.StatusOK
	}, "/readyz to answer 200")
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, a)) == 2 }, "both nodes online again")
	var out struct{ SubmitTask struct{ ID string } }
	a.gql(t, `mutation { submitTask(input: {type: "echo", input: 1}) { id } }`, nil, &out)
	if out.SubmitTask.ID == "" {
		t.Errorf("submitTask after the restart returned no task")
	}
	time.Sleep(time.Second) // a second more for a late flap to show
	for _, n := range []*node{a, b} {
		lines := logLinesSince(n, mark[n])
		if c := countLines(lines, "lost the store"); c != 1 {
			t.Errorf("%s logged %d lines about losing the store in all, want 1", n.addr, c)
		}
		if c := countLines(lines, "store reachable again"); c != 1 {
			t.Errorf("%s logged %d lines about the store being back, want 1", n.addr, c)
		}
		if c := countLines(lines, "node is offline"); c != 0 {
			t.Errorf("%s called a node offline for heartbeats the store could not take:\n%s", n.addr, strings.Join(lines, "\n"))
		}
	}
}
