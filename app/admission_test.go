package app

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/store"
)

// TestAdmit walks the cluster-secret rules over one shared store: the
// first node with a secret records its verifier; the same secret joins;
// another secret or none is refused while a node runs; once every node is
// stopped, a restart changes or removes the secret.
func TestAdmit(t *testing.T) {
	t.Parallel()
	const secret, other = "the-cluster-secret-S", "another-secret-XYZ"
	var mu sync.Mutex
	now := time.Now().Add(-time.Hour)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	st := store.NewMemory(store.Options{Now: clock})
	t.Cleanup(func() { _ = st.Close() })
	ctx := t.Context()

	var logs bytes.Buffer
	// node starts a node with secret, as Run does up to admission, and
	// returns it with admission's error.
	node := func(id, secret string) (*Main, error) {
		t.Helper()
		o, err := parseServe([]string{"--store", "memory", "--cluster", "c1", "--node-id", id},
			env(map[string]string{"ARCHIVIST_CLUSTER_SECRET": secret}), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		m := NewMain(o, slog.New(slog.NewTextHandler(&logs, nil)))
		m.nodeID, m.startedAt, m.Store = id, time.Now(), st
		if err := m.reconcileConfig(ctx); err != nil {
			t.Fatal(err)
		}
		return m, m.admit(ctx)
	}
	// beat writes m's heartbeat, fresh or not.
	beat := func(m *Main, at time.Time) {
		t.Helper()
		n := &archivist.Node{ID: m.nodeID, Role: archivist.RoleHybrid, StartedAt: m.startedAt, LastHeartbeat: at,
			Interval: time.Second, AdmissionProof: m.admissionProof()}
		if _, err := st.Heartbeat(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	config := func() archivist.Config {
		t.Helper()
		c, err := st.Config(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	mustFail := func(err error, want ...string) {
		t.Helper()
		if err == nil {
			t.Fatal("admitted, want refused")
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
		for _, s := range []string{secret, other} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error %q shows a secret", err)
			}
		}
	}

	a, err := node("a", secret)
	if err != nil {
		t.Fatalf("first node with a secret: %v", err)
	}
	want := archivist.DeriveAdmissionKey(secret, "c1").Verifier()
	if got := config().AdmissionKey; got != want {
		t.Fatalf("recorded key %q, want %q", got, want)
	}
	if a.Settings().AdmissionKey != want {
		t.Errorf("node a runs without the key it recorded")
	}
	beat(a, time.Now())
	n, err := st.ListNodes(ctx)
	if err != nil || !archivist.VerifyAdmission(want, n[0]) {
		t.Fatalf("a's heartbeat proof does not verify: %v %+v", err, n)
	}

	version := config().Version
	if _, err := node("b", secret); err != nil {
		t.Fatalf("a node with the same secret: %v", err)
	}
	if config().Version != version {
		t.Errorf("joining with the same secret changed the config")
	}

	_, err = node("c", other)
	mustFail(err, `cluster "c1" was started with another cluster secret`, "ARCHIVIST_CLUSTER_SECRET", "running now: a", "stop every node")
	_, err = node("d", "")
	mustFail(err, `cluster "c1" requires a cluster secret`, "running now: a", "stop every node")
	if config().AdmissionKey != want {
		t.Fatalf("a refused node changed the key")
	}
	// A restarted node keeps its id: its own stale record does not count.
	if _, err := node("a", secret); err != nil {
		t.Fatalf("a restarted: %v", err)
	}

	// Every node stopped (a's heartbeat is old, the config was written long
	// ago): a restart with another secret changes it, one without removes it.
	beat(a, time.Now().Add(-time.Minute))
	mu.Lock()
	now = time.Now()
	mu.Unlock()
	if _, err := node("c", other); err != nil {
		t.Fatalf("another secret with no node running: %v", err)
	}
	if got := config().AdmissionKey; got != archivist.DeriveAdmissionKey(other, "c1").Verifier() {
		t.Fatalf("key %q after a restart with another secret", got)
	}
	if !strings.Contains(logs.String(), "replaced the cluster secret") {
		t.Errorf("the change is not logged:\n%s", logs.String())
	}
	// c just wrote the config: a node starting right after it, before c's
	// first heartbeat, counts it as running.
	_, err = node("d", "")
	mustFail(err, "running now: c")

	mu.Lock()
	now = time.Now().Add(-time.Hour)
	mu.Unlock()
	cfg := config()
	cfg.UpdatedBy = "c"
	if _, err := st.UpdateConfig(ctx, cfg, cfg.Version); err != nil {
		t.Fatal(err)
	}
	if _, err := node("d", ""); err != nil {
		t.Fatalf("no secret with no node running: %v", err)
	}
	if got := config().AdmissionKey; got != "" {
		t.Fatalf("key %q after a restart without a secret", got)
	}
	if !strings.Contains(logs.String(), "removed the cluster secret") {
		t.Errorf("the removal is not logged:\n%s", logs.String())
	}
	for _, s := range []string{secret, other} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log shows a secret:\n%s", logs.String())
		}
	}
}

// TestAdmissionKeyKeptByUpdates: reconciling options and API-style config
// updates keep the recorded verifier.
func TestAdmissionKeyKeptByUpdates(t *testing.T) {
	t.Parallel()
	st := store.NewMemory(store.Options{})
	t.Cleanup(func() { _ = st.Close() })
	cfg := archivist.DefaultConfig()
	cfg.AdmissionKey = "ed25519:x"
	saved, err := st.UpdateConfig(t.Context(), cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	o, err := parseServe([]string{"--store", "memory", "--workers", "9"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want, err := o.settings(saved)
	if err != nil {
		t.Fatal(err)
	}
	if want.AdmissionKey != "ed25519:x" || want.Workers != 9 {
		t.Errorf("options applied over the stored config dropped the key: %+v", want)
	}
}
