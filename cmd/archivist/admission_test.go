package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// runNodeEnv runs `archivist serve args` with env added to the environment
// until it exits (at most a minute); it returns its output and exit code.
func runNodeEnv(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, append([]string{"serve", "--http", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(append(os.Environ(), "XDG_DATA_HOME="+t.TempDir()), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("run archivist: %v", err)
	return "", 0
}

// TestClusterSecretAdmission: in registry mode the cluster secret admits
// nodes. x runs before the cluster has a secret; a, started with secret S,
// records its verifier, after which x gets no tasks; b, started with S,
// joins and runs tasks; c, with another secret, and d, with none, exit
// non-zero saying what to do. S is nowhere in Redis.
func TestClusterSecretAdmission(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	const secret = "admission-secret-S-4f9c2b7e"
	withSecret := []string{"ARCHIVIST_CLUSTER_SECRET=" + secret}
	r := redistest.Start(t)

	x := startNodeEnv(t, nil, clusterArgs(r.URL(), "x", "--role", "worker")...)
	a := startNodeEnv(t, withSecret, clusterArgs(r.URL(), "a")...)
	waitLog(t, a, 5*time.Second, "a to record the verifier", "recorded the cluster secret's verifier")
	waitLog(t, a, 5*time.Second, "a to warn about x", "get no tasks until they restart with it", "x")
	b := startNodeEnv(t, withSecret, clusterArgs(r.URL(), "b", "--role", "worker")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, a)) == 3 }, "three online nodes")
	waitApplied(t, a, 3)

	const total = 200
	submitSleeps(t, a, total, 5)
	testkit.Eventually(t, 60*time.Second, func() bool { return completed(t, a) == total }, "all tasks to complete")
	c := countTasks(t, a)
	if c.byNode["x"] != 0 || c.byNode["b"] == 0 || c.byNode["a"]+c.byNode["b"] != total {
		t.Fatalf("completed by node %v: want a and b only, b among them", c.byNode)
	}
	leader := map[string]*node{"a": a}[leaderOf(t, a)]
	if leader == nil {
		t.Fatalf("leader %q, want a (x and b cannot lead)", leaderOf(t, a))
	}
	waitLog(t, leader, 5*time.Second, "the leader to log x's refusal", "refused a node that does not prove the cluster secret", "peer=x")
	if n := strings.Count(leader.logs.String(), "refused a node that does not prove the cluster secret"); n != 1 {
		t.Errorf("the refusal of x is logged %d times, want once", n)
	}

	for _, tc := range []struct {
		id   string
		env  []string
		want string
	}{
		{"c", []string{"ARCHIVIST_CLUSTER_SECRET=another-secret-XYZ-0123"}, "was started with another cluster secret"},
		{"d", nil, "requires a cluster secret"},
	} {
		out, code := runNodeEnv(t, tc.env, clusterArgs(r.URL(), tc.id)...)
		if code == 0 || !strings.Contains(out, tc.want) || !strings.Contains(out, "ARCHIVIST_CLUSTER_SECRET") ||
			!strings.Contains(out, "running now: a, b, x") {
			t.Errorf("node %s: exit code %d, output:\n%s\nwant a non-zero exit saying %q and what to do", tc.id, code, out, tc.want)
		}
		if strings.Contains(out, secret) || strings.Contains(out, "another-secret-XYZ") {
			t.Errorf("node %s shows a secret:\n%s", tc.id, out)
		}
	}
	if ids := onlineNodes(t, a); strings.Join(ids, ",") != "a,b,x" {
		t.Errorf("online nodes %v after the refusals", ids)
	}
	var admitted struct {
		Nodes []struct {
			ID       string
			Admitted bool
		}
	}
	a.gql(t, `{ nodes { id admitted } }`, nil, &admitted)
	for _, n := range admitted.Nodes {
		if n.Admitted != (n.ID != "x") {
			t.Errorf("node %s: admitted %v in the API", n.ID, n.Admitted)
		}
	}
	if dump := redisContents(t, r.Addr, ""); strings.Contains(dump, secret) {
		t.Errorf("the cluster secret is in Redis")
	} else if !strings.Contains(dump, "admissionKey") || !strings.Contains(dump, "admissionProof") {
		t.Errorf("no verifier or proof in Redis: %.2000s", dump)
	}
	for id, n := range map[string]*node{"a": a, "b": b, "x": x} {
		if strings.Contains(n.logs.String(), secret) {
			t.Errorf("the log of %s shows the secret", id)
		}
	}
}
