package store

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

func TestParseRedisURL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	caFile, certFile, keyFile := writeTestCert(t, dir)
	cases := []struct {
		url  string
		want redis.UniversalOptions // TLSConfig is checked apart
		tls  bool
	}{
		{url: "redis://localhost:6379/0", want: redis.UniversalOptions{Addrs: []string{"localhost:6379"}}},
		{url: "redis://localhost", want: redis.UniversalOptions{Addrs: []string{"localhost:6379"}}},
		{url: "redis://10.0.0.1:7000/3", want: redis.UniversalOptions{Addrs: []string{"10.0.0.1:7000"}, DB: 3}},
		{url: "redis://:s3cr%40t@h:1/", want: redis.UniversalOptions{Addrs: []string{"h:1"}, Password: "s3cr@t"}},
		{url: "redis://ana:pw@h:1/2", want: redis.UniversalOptions{Addrs: []string{"h:1"}, Username: "ana", Password: "pw", DB: 2}},
		{url: "redis://[::1]:6380", want: redis.UniversalOptions{Addrs: []string{"[::1]:6380"}}},
		{url: "rediss://h:6380/1", want: redis.UniversalOptions{Addrs: []string{"h:6380"}, DB: 1}, tls: true},
		{url: "rediss://h?insecure_skip_verify=true", want: redis.UniversalOptions{Addrs: []string{"h:6379"}}, tls: true},
		{url: "rediss://h:1?ca=" + caFile + "&cert=" + certFile + "&key=" + keyFile,
			want: redis.UniversalOptions{Addrs: []string{"h:1"}}, tls: true},
		{url: "redis+sentinel://s1:26379,s2:26380/mymaster",
			want: redis.UniversalOptions{Addrs: []string{"s1:26379", "s2:26380"}, MasterName: "mymaster"}},
		{url: "redis+sentinel://u:p@s1,s2/mymaster/4?sentinel_password=sp",
			want: redis.UniversalOptions{Addrs: []string{"s1:26379", "s2:26379"}, MasterName: "mymaster", DB: 4,
				Username: "u", Password: "p", SentinelPassword: "sp"}},
		{url: "redis+cluster://a:7000,b:7001,c:7002",
			want: redis.UniversalOptions{Addrs: []string{"a:7000", "b:7001", "c:7002"}, IsClusterMode: true}},
		{url: "redis+cluster://:pw@a:7000",
			want: redis.UniversalOptions{Addrs: []string{"a:7000"}, Password: "pw", IsClusterMode: true}},
		{url: "rediss+cluster://a:7000,b:7001/", want: redis.UniversalOptions{Addrs: []string{"a:7000", "b:7001"}, IsClusterMode: true}, tls: true},
	}
	for _, c := range cases {
		got, err := ParseRedisURL(c.url)
		if err != nil {
			t.Errorf("ParseRedisURL(%s): %v", c.url, err)
			continue
		}
		if (got.TLSConfig != nil) != c.tls {
			t.Errorf("ParseRedisURL(%s): TLS %v, want %v", c.url, got.TLSConfig != nil, c.tls)
		}
		if got.TLSConfig != nil {
			host := strings.Split(strings.Split(c.want.Addrs[0], ":")[0], ",")[0]
			if got.TLSConfig.ServerName != host {
				t.Errorf("ParseRedisURL(%s): ServerName %q, want %q", c.url, got.TLSConfig.ServerName, host)
			}
		}
		got.TLSConfig = nil
		if diff := cmp.Diff(c.want, *got); diff != "" {
			t.Errorf("ParseRedisURL(%s) (-want +got):\n%s", c.url, diff)
		}
	}

	withCerts, err := ParseRedisURL("rediss://h:1?ca=" + caFile + "&cert=" + certFile + "&key=" + keyFile + "&insecure_skip_verify=false")
	if err != nil {
		t.Fatal(err)
	}
	if tc := withCerts.TLSConfig; tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.InsecureSkipVerify {
		t.Errorf("TLS config from ca, cert and key: RootCAs %v, %d certificates, insecure %v", tc.RootCAs != nil, len(tc.Certificates), tc.InsecureSkipVerify)
	}
	if insecure, _ := ParseRedisURL("rediss://h?insecure_skip_verify=true"); !insecure.TLSConfig.InsecureSkipVerify {
		t.Errorf("insecure_skip_verify=true not applied")
	}

	bad := []struct{ url, says string }{
		{"localhost:6379", "no scheme"},
		{"http://h", `unknown scheme "http"`},
		{"redis://", "no host"},
		{"redis://h:port", `port "port"`},
		{"redis://h:0", `port "0"`},
		{"redis://h:70000", `port "70000"`},
		{"redis://h/x", `database "x"`},
		{"redis://h/-1", `database "-1"`},
		{"redis://h/1/2", "only a database number"},
		{"redis://a,b", "several hosts"},
		{"redis://h?ca=/x", "ca needs TLS"},
		{"redis://h?foo=1", `unknown parameter "foo"`},
		{"redis://h?sentinel_password=x", "sentinel_password is for redis+sentinel"},
		{"rediss://h?insecure_skip_verify=maybe", `insecure_skip_verify="maybe"`},
		{"rediss://h?ca=" + filepath.Join(dir, "missing.pem"), "read CA file"},
		{"rediss://h?ca=" + keyFile, "holds no PEM certificate"},
		{"rediss://h?cert=" + certFile, "needs both cert=PATH and key=PATH"},
		{"rediss://h?cert=" + certFile + "&key=" + caFile, "load client certificate"},
		{"redis+sentinel://s1,s2", "no master name"},
		{"redis+sentinel://s1/m/1/2", "more than mastername/db"},
		{"redis+sentinel://s1/m/x", `database "x"`},
		{"redis+cluster://a:1,b:2/3", "only database 0"},
		{"redis+cluster://a:1,,b:2", "empty host"},
		{"redis://[::1:6379", "missing ]"},
		{"redis://:pw%zz@h", "password is not properly percent-encoded"},
	}
	for _, c := range bad {
		_, err := ParseRedisURL(c.url)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("ParseRedisURL(%s): error %v, want one saying %q", c.url, err, c.says)
		}
	}
	if _, err := ParseRedisURL("redis://ana:topsecret@h:1/x"); err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Errorf("error shows the password: %v", err)
	}
}

// writeTestCert writes a self-signed certificate (used as CA and as client
// certificate) and its key.
func writeTestCert(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	write := func(path, typ string, b []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(cert, "CERTIFICATE", der)
	write(key, "EC PRIVATE KEY", keyDER)
	return cert, cert, key
}

// openTestRedis opens a store on url under cluster and closes it at the end.
func openTestRedis(t *testing.T, o RedisOptions) *Redis {
	t.Helper()
	if o.Options.Logger == nil {
		o.Options.Logger = slog.New(slog.DiscardHandler)
	}
	r, err := OpenRedis(t.Context(), o)
	if err != nil {
		t.Fatalf("OpenRedis: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// workload runs one of every kind of transition, so that every kind of key
// exists afterwards.
func workload(t *testing.T, s archivist.Store) {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tasks := []*archivist.Task{
		{ID: "w-done", Type: "t", Priority: archivist.PriorityHigh, Timeout: time.Minute, MaxRetries: 2},
		{ID: "w-retry", Type: "t", Priority: archivist.PriorityNormal, Timeout: time.Minute, MaxRetries: 2},
		{ID: "w-assigned", Type: "t", Priority: archivist.PriorityLow, Timeout: time.Minute},
		{ID: "w-running", Type: "t", Priority: archivist.PriorityLow, Timeout: time.Minute},
		{ID: "w-pending", Type: "t", Priority: archivist.PriorityCritical, Timeout: time.Minute},
	}
	must(s.CreateTasks(ctx, tasks))
	lease, err := s.Campaign(ctx, "n1", time.Minute)
	must(err)
	_, err = s.AssignTasks(ctx, lease, []archivist.Assignment{{TaskID: "w-done", NodeID: "n1"},
		{TaskID: "w-retry", NodeID: "n1"}, {TaskID: "w-assigned", NodeID: "n2"}}, time.Minute)
	must(err)
	_, err = s.ClaimTasks(ctx, "n1", 2, time.Second)
	must(err)
	_, err = s.ClaimTask(ctx, "n3", "w-running", time.Second)
	must(err)
	_, err = s.CompleteTask(ctx, "w-done", 1, json.RawMessage(`{"ok":true}`))
	must(err)
	_, err = s.FailTask(ctx, "w-retry", 1, archivist.Failure{Error: "x", Retry: archivist.RetryPolicy{Base: time.Minute, Max: time.Minute}})
	must(err)
	_, err = s.Heartbeat(ctx, &archivist.Node{ID: "n1", LastHeartbeat: time.Now()})
	must(err)
	_, err = s.SetDraining(ctx, "n1", true)
	must(err)
	_, err = s.UpdateConfig(ctx, archivist.DefaultConfig(), 0)
	must(err)
	must(s.CreateWorkflow(ctx, &archivist.Workflow{ID: "w-flow", Name: "flow", Steps: []archivist.WorkflowStep{
		{Key: "a", TaskID: "w-step-a"}, {Key: "b", DependsOn: []string{"a"}, TaskID: "w-step-b"}}},
		[]*archivist.Task{{ID: "w-step-a", Type: "t", Priority: archivist.PriorityNormal, Timeout: time.Minute, StepKey: "a"},
			{ID: "w-step-b", Type: "t", Priority: archivist.PriorityNormal, Timeout: time.Minute, StepKey: "b"}}))
}

// TestRedisKeysShareOneSlot lists every key a store made on a Redis
// Cluster: all carry the cluster's hash tag and so map to one slot.
func TestRedisKeysShareOneSlot(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	c := redistest.StartCluster(t)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = client.Close() })
	r := openTestRedis(t, RedisOptions{Client: client, Cluster: "slots"})
	workload(t, r)

	ctx := t.Context()
	var mu sync.Mutex
	var keys []string
	err := client.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		found, err := node.Keys(ctx, "*").Result()
		mu.Lock()
		keys = append(keys, found...)
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	want := []string{"all", "ready", "retrying", "leased", "counts", "loads", "seq:task", "seq:event",
		"events", "leader", "nodes", "draining", "config", "task:w-done", "assigned:n2",
		"waiting", "workflows", "seq:workflow", "wf:w-flow", "task:w-step-b"}
	for _, k := range want {
		if !slices.Contains(keys, r.keys.prefix+k) {
			t.Errorf("no key %s after the workload; keys: %v", r.keys.prefix+k, keys)
		}
	}
	slot, err := client.ClusterKeySlot(ctx, redisHashTag("slots")).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "{archivist:slots}:") {
			t.Errorf("key %q lacks the hash tag", k)
		}
		if s, err := client.ClusterKeySlot(ctx, k).Result(); err != nil || s != slot {
			t.Errorf("key %q is in slot %d (%v), the tag's is %d", k, s, err, slot)
		}
	}
}

// countingHandler counts log records by message.
type countingHandler struct {
	mu   sync.Mutex
	msgs map[string]int
	// logged is closed (and replaced) when a line is logged.
	logged chan struct{}
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.msgs[r.Message]++
	if h.logged != nil {
		close(h.logged)
	}
	h.logged = make(chan struct{})
	h.mu.Unlock()
	return nil
}

// await waits until lines starting with prefix were logged at least n
// times, and fails the test after 10 s.
func (h *countingHandler) await(t *testing.T, prefix string, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		h.mu.Lock()
		if h.logged == nil {
			h.logged = make(chan struct{})
		}
		ch := h.logged
		h.mu.Unlock()
		if h.count(prefix) >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%q logged %d times after 10s, want %d", prefix, h.count(prefix), n)
		}
	}
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

func (h *countingHandler) count(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for m, c := range h.msgs {
		if strings.HasPrefix(m, prefix) {
			n += c
		}
	}
	return n
}

// nextEvent returns the next event of sub or fails after a while.
func nextEvent(t *testing.T, sub archivist.Subscription) archivist.Event {
	t.Helper()
	select {
	case ev, ok := <-sub.C():
		if !ok {
			t.Fatalf("subscription ended: %v", sub.Err())
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	panic("unreachable")
}

// createdIDs reads n events from sub, checks that their Seqs follow each
// other from *prev on, and returns the ids of the task.created ones.
func createdIDs(t *testing.T, sub archivist.Subscription, n int, prev *uint64) []string {
	t.Helper()
	var out []string
	for range n {
		ev := nextEvent(t, sub)
		if ev.Seq != *prev+1 {
			t.Fatalf("event #%d %s follows #%d", ev.Seq, ev.Type, *prev)
		}
		*prev = ev.Seq
		if ev.Type == archivist.EventTaskCreated {
			out = append(out, ev.Task.ID)
		}
	}
	return out
}

func createNamed(t *testing.T, s archivist.Store, ids ...string) {
	t.Helper()
	var tasks []*archivist.Task
	for _, id := range ids {
		tasks = append(tasks, &archivist.Task{ID: id, Type: "t", Priority: archivist.PriorityNormal, Timeout: time.Minute})
	}
	if err := s.CreateTasks(t.Context(), tasks); err != nil {
		t.Fatalf("CreateTasks(%v): %v", ids, err)
	}
}

// TestRedisEventsSurviveRestart: a subscriber keeps its feed, in order and
// without repeats, across a restart of the server; the reader logs the
// outage once.
func TestRedisEventsSurviveRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	logs := &countingHandler{msgs: map[string]int{}}
	r := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "restart", Options: Options{Logger: slog.New(logs)}})
	sub, err := r.Subscribe(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var prev uint64
	createNamed(t, r, "a1", "a2")
	if got := createdIDs(t, sub, 2, &prev); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Fatalf("before the restart: %v", got)
	}

	srv.Kill()
	time.Sleep(700 * time.Millisecond) // several read attempts fail meanwhile
	srv.Restart()
	var err2 error
	for range 50 { // the pool may hand out a connection that died with the server
		if err2 = r.CreateTasks(t.Context(), []*archivist.Task{{ID: "b1", Type: "t", Priority: archivist.PriorityNormal}}); err2 == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err2 != nil {
		t.Fatalf("CreateTasks after the restart: %v", err2)
	}
	createNamed(t, r, "b2", "b3")
	if got := createdIDs(t, sub, 3, &prev); !slices.Equal(got, []string{"b1", "b2", "b3"}) {
		t.Fatalf("after the restart: %v", got)
	}
	select {
	case ev := <-sub.C():
		t.Fatalf("unexpected event after the restart: #%d %s", ev.Seq, ev.Type)
	case <-time.After(100 * time.Millisecond):
	}
	// The subscriber may have had the events from the calls themselves
	// (echo), before the reader read the stream again.
	logs.await(t, "redis store: event stream readable again", 1)
	if n := logs.count("redis store: cannot read the event stream"); n != 1 {
		t.Errorf("outage logged %d times, want once", n)
	}
	if n := logs.count("redis store: event stream readable again"); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}
	if n := logs.count("lost the store: the Redis store at " + srv.Addr + " cannot be reached"); n != 1 {
		t.Errorf("store lost logged %d times, want once", n)
	}
	if n := logs.count("store reachable again: the Redis store at " + srv.Addr); n != 1 {
		t.Errorf("store regained logged %d times, want once", n)
	}

	// The whole history is still there for a subscriber that starts back.
	from, err := r.Subscribe(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close()
	prev = 1
	if got := createdIDs(t, from, 4, &prev); !slices.Equal(got, []string{"a2", "b1", "b2", "b3"}) {
		t.Fatalf("replay from #1 after the restart: %v", got)
	}
}

// TestRedisReloadsLostLibrary: a server that lost the functions library (a
// restart without persistence, FUNCTION FLUSH) gets it again from the
// first call that misses it, which then succeeds; so does a call that
// waits for replicas (it runs in its own pipeline).
func TestRedisReloadsLostLibrary(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	r := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "lost"})
	libraries := func() []string {
		t.Helper()
		list, err := client.FunctionList(t.Context(), redis.FunctionListQuery{}).Result()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, l := range list {
			names = append(names, l.Name)
		}
		return names
	}
	if got := libraries(); !slices.Equal(got, []string{luaScripts.library}) {
		t.Fatalf("libraries after open: %v, want [%s]", got, luaScripts.library)
	}
	createNamed(t, r, "a1")
	if err := client.FunctionFlush(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	createNamed(t, r, "a2")
	if got := libraries(); !slices.Equal(got, []string{luaScripts.library}) {
		t.Fatalf("libraries after a call: %v, want [%s]", got, luaScripts.library)
	}

	// With wait_replicas (and no replica: the wait itself fails, after
	// the write).
	d, err := OpenRedis(t.Context(), RedisOptions{URL: srv.URL() + "?wait_replicas=1&wait_timeout=50ms", Cluster: "lost"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := client.FunctionFlush(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	err = d.CreateTasks(t.Context(), []*archivist.Task{{ID: "a3", Type: "t", Priority: archivist.PriorityNormal}})
	if archivist.ErrorCodeOf(err) != archivist.CodeUnavailable || !strings.Contains(err.Error(), "replica") {
		t.Fatalf("CreateTasks waiting for a replica that does not exist: %v, want UNAVAILABLE after the write", err)
	}
	for _, id := range []string{"a1", "a2", "a3"} {
		if _, err := r.GetTask(t.Context(), id); err != nil {
			t.Errorf("GetTask(%s): %v", id, err)
		}
	}
}

// TestRedisTwoInstances: two store instances on one cluster (two nodes)
// see each other's events, with one sequence.
func TestRedisTwoInstances(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "shared"})
	b := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "shared"})
	subA, err := a.Subscribe(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer subA.Close()
	subB, err := b.Subscribe(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer subB.Close()

	createNamed(t, a, "from-a")
	createNamed(t, b, "from-b")
	createNamed(t, a, "from-a-2")
	var prevA, prevB uint64
	gotA := createdIDs(t, subA, 3, &prevA)
	gotB := createdIDs(t, subB, 3, &prevB)
	want := []string{"from-a", "from-b", "from-a-2"}
	if !slices.Equal(gotA, want) || !slices.Equal(gotB, want) {
		t.Fatalf("instance a saw %v, b saw %v; want %v on both", gotA, gotB, want)
	}
	if prevA != 3 || prevB != 3 {
		t.Errorf("last Seq on a %d, on b %d; want 3", prevA, prevB)
	}
	if got, err := b.GetTask(t.Context(), "from-a"); err != nil || got.Type != "t" {
		t.Errorf("b reads a's task: %+v, %v", got, err)
	}

	// A different cluster on the same server sees nothing of it.
	other := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "other"})
	if seq, _ := other.LastSeq(t.Context()); seq != 0 {
		t.Errorf("another cluster's LastSeq %d, want 0", seq)
	}
	if _, err := other.GetTask(t.Context(), "from-a"); !archivist.IsCode(err, archivist.CodeNotFound) {
		t.Errorf("another cluster reads the task: %v", err)
	}
}

// TestRedisFencedNode: a node whose tasks were taken back while it was cut
// off reports through its own store instance and gets CONFLICT; the
// rejection is recorded for everyone to see.
func TestRedisFencedNode(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	leader := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "fence"})
	cutOff := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "fence"})
	other := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "fence"})
	ctx := t.Context()
	watch, err := leader.Subscribe(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()

	createNamed(t, leader, "job")
	lease, err := leader.Campaign(ctx, "leader", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leader.AssignTasks(ctx, lease, []archivist.Assignment{{TaskID: "job", NodeID: "node-1"}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	claimed, err := cutOff.ClaimTasks(ctx, "node-1", 1, time.Second)
	if err != nil || len(claimed) != 1 || claimed[0].Attempt != 1 {
		t.Fatalf("node-1 claims: %v, %v", claimed, err)
	}
	if _, err := leader.RequeueNode(ctx, lease, "node-1"); err != nil {
		t.Fatal(err)
	}
	second, err := other.ClaimTask(ctx, "node-2", "job", time.Second)
	if err != nil || second.Attempt != 2 {
		t.Fatalf("node-2 claims: %+v, %v", second, err)
	}

	_, err = cutOff.CompleteTask(ctx, "job", 1, json.RawMessage(`"late"`))
	if !archivist.IsCode(err, archivist.CodeConflict) || !strings.Contains(err.Error(), "stale attempt 1") {
		t.Fatalf("late CompleteTask of attempt 1: %v, want CONFLICT about a stale attempt", err)
	}
	_, err = cutOff.FailTask(ctx, "job", 1, archivist.Failure{Error: "late", Permanent: true})
	if !archivist.IsCode(err, archivist.CodeConflict) {
		t.Fatalf("late FailTask of attempt 1: %v, want CONFLICT", err)
	}
	if err := cutOff.ReportProgress(ctx, "job", 1, 0.5, "late"); !archivist.IsCode(err, archivist.CodeConflict) {
		t.Fatalf("late ReportProgress of attempt 1: %v, want CONFLICT", err)
	}
	stale := 0
	for stale < 2 {
		ev := nextEvent(t, watch)
		if ev.Type == archivist.EventTaskStaleReport {
			stale++
			if ev.Task.Attempt != 2 || !strings.Contains(ev.Detail, "attempt 1") {
				t.Errorf("stale report: task at attempt %d, detail %q", ev.Task.Attempt, ev.Detail)
			}
		}
	}
	got, err := leader.GetTask(ctx, "job")
	if err != nil || got.Status != archivist.TaskInProgress || got.Attempt != 2 || got.NodeID != "node-2" {
		t.Fatalf("task after the late reports: %+v, %v", got, err)
	}

	// The old leader is fenced off as well once another node leads.
	if err := leader.Resign(ctx, "leader"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Campaign(ctx, "node-2", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := leader.RequeueNode(ctx, lease, "node-2"); !archivist.IsCode(err, archivist.CodeConflict) {
		t.Fatalf("RequeueNode under the old lease: %v, want CONFLICT", err)
	}
}

// TestRedisCatchUpFromStream: a subscription that starts further back than
// the bus keeps (or than the instance has seen at all) is fed from the
// stream and then live, without a gap or a repeat.
func TestRedisCatchUpFromStream(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	w := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "catchup", Options: Options{EventHistory: 8}})
	for i := range 40 {
		createNamed(t, w, fmt.Sprintf("old-%02d", i))
	}
	// A late instance holds no history at all; w's ring only the last 8.
	late := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "catchup", Options: Options{EventHistory: 8}})
	for _, s := range []*Redis{w, late} {
		sub, err := s.Subscribe(t.Context(), 5)
		if err != nil {
			t.Fatal(err)
		}
		last, _ := w.LastSeq(t.Context())
		prev := uint64(5)
		got := createdIDs(t, sub, int(last-5), &prev)
		if len(got) < 35 || got[0] != "old-05" || got[34] != "old-39" {
			t.Fatalf("replay: %v", got)
		}
		live := fmt.Sprintf("live-%p", s)
		createNamed(t, w, live)
		if got := createdIDs(t, sub, 1, &prev); got[0] != live {
			t.Fatalf("live after the replay: %v, want %s", got, live)
		}
		sub.Close()
	}
}

// TestRedisErrors: connection trouble is an internal error that keeps its
// cause; a bad configuration fails OpenRedis with a clear message.
func TestRedisErrors(t *testing.T) {
	t.Parallel()
	if _, err := OpenRedis(t.Context(), RedisOptions{}); err == nil || !strings.Contains(err.Error(), "needs a Client, a URL or Addrs") {
		t.Errorf("OpenRedis without a server: %v", err)
	}
	if _, err := OpenRedis(t.Context(), RedisOptions{URL: "redis://127.0.0.1:1", Cluster: "a{b}"}); err == nil || !strings.Contains(err.Error(), "must not contain") {
		t.Errorf("OpenRedis with braces in the cluster name: %v", err)
	}
	port := redistest.FreePort(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := OpenRedis(ctx, RedisOptions{URL: fmt.Sprintf("redis://:pw@127.0.0.1:%d", port)}); err == nil ||
		!strings.Contains(err.Error(), "ping") || strings.Contains(err.Error(), ":pw@") {
		t.Errorf("OpenRedis of a closed port: %v, want a ping error without the password", err)
	}

	srv := redistest.Start(t)
	r := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "errors"})
	srv.Kill()
	// A server gone is not a bug: UNAVAILABLE, naming the store.
	want := "the Redis store at " + srv.Addr + " cannot be reached"
	ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := r.GetTask(ctx, "x")
	if err == nil || archivist.ErrorCodeOf(err) != archivist.CodeUnavailable || archivist.ErrorMessageOf(err) != want {
		t.Fatalf("GetTask with the server gone: %v (code %s), want UNAVAILABLE: %s", err, archivist.ErrorCodeOf(err), want)
	}
	if !strings.HasPrefix(err.Error(), "redis store: get task: ") || !strings.Contains(err.Error(), "connect") {
		t.Errorf("the error does not wrap its cause: %v", err)
	}
	if _, uerr := r.Unreachable(); uerr == nil {
		t.Errorf("Unreachable() = nil while the server is gone")
	}
	_, err = r.CancelTask(ctx, "x")
	if archivist.ErrorCodeOf(err) != archivist.CodeUnavailable {
		t.Errorf("CancelTask with the server gone: %v, want UNAVAILABLE", err)
	}
	if _, err := r.ListNodes(ctx); archivist.ErrorCodeOf(err) != archivist.CodeUnavailable {
		t.Errorf("ListNodes with the server gone: %v, want UNAVAILABLE", err)
	}
	if err := r.CreateTasks(ctx, []*archivist.Task{{ID: "u1", Type: "t", Priority: archivist.PriorityNormal}}); archivist.ErrorCodeOf(err) != archivist.CodeUnavailable {
		t.Errorf("CreateTasks with the server gone: %v, want UNAVAILABLE", err)
	}
	// A password in the URL never reaches the message.
	for raw, want := range map[string]string{
		"redis://:s3cret@10.0.0.1:7000/0":                                       "the Redis store at 10.0.0.1:7000",
		"redis+sentinel://u:s3cret@h1:1,h2:2/mymaster?sentinel_password=s3cret": "the Redis store (Sentinel master mymaster via h1:1,h2:2)",
		"redis+cluster://:s3cret@h1:1,h2:2":                                     "the Redis Cluster store at h1:1,h2:2",
	} {
		uo, err := ParseRedisURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := redisName(uo, nil); got != want {
			t.Errorf("redisName(%s) = %q, want %q", raw, got, want)
		}
	}

	// Back: answers again, and Unreachable says so.
	srv.Restart()
	var gerr error
	for range 50 {
		if _, gerr = r.GetTask(ctx, "x"); archivist.IsCode(gerr, archivist.CodeNotFound) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !archivist.IsCode(gerr, archivist.CodeNotFound) {
		t.Fatalf("GetTask after the restart: %v, want NOT_FOUND", gerr)
	}
	if _, uerr := r.Unreachable(); uerr != nil {
		t.Errorf("Unreachable() = %v after the server came back", uerr)
	}
}

// TestRedisClosed: after Close every call fails and subscriptions end.
func TestRedisClosed(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	r, err := OpenRedis(t.Context(), RedisOptions{URL: srv.URL(), Options: Options{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := r.Subscribe(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %s: the blocked stream read was not ended", d)
	}
	if _, ok := <-sub.C(); ok {
		t.Errorf("subscription still open after Close")
	}
	if _, err := r.GetTask(t.Context(), "x"); err == nil {
		t.Errorf("GetTask after Close succeeded")
	}
	if err := r.CreateTasks(t.Context(), []*archivist.Task{{Type: "t"}}); err == nil {
		t.Errorf("CreateTasks after Close succeeded")
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// loadLibFunction loads a library of lib.lua and limit_lib.lua with one
// function test_<name> whose body is body (after begin_call, as the
// store's own functions), and returns the function's name.
func loadLibFunction(t *testing.T, c *redis.Client, name, body string) string {
	t.Helper()
	fn := "test_" + name
	code := "#!lua name=" + fn + "\n" + mustReadLua("lib") + "\n" + mustReadLua("limit_lib") +
		"\nredis.register_function('" + fn + "', function(keys, args)\nbegin_call(keys, args)\n" + body + "\nend)\n"
	if err := c.FunctionLoad(t.Context(), code).Err(); err != nil {
		t.Fatal(err)
	}
	return fn
}

// TestRedisBackoffMatchesGo checks the Lua backoff against archivist.Backoff
// at the ends of its jitter.
func TestRedisBackoffMatchesGo(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	fn := loadLibFunction(t, client, "backoff", "return backoff(tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]))")
	keys, _ := newRedisKeys("backoff")
	for _, c := range []struct {
		n         int
		base, max time.Duration
	}{{1, time.Second, time.Minute}, {3, time.Second, time.Minute}, {12, time.Second, time.Minute},
		{2, 0, 0}, {5, 300 * time.Millisecond, 100 * time.Millisecond}, {100, time.Millisecond, 24 * time.Hour}} {
		lo, hi := time.Duration(1<<62), time.Duration(0)
		for range 200 {
			d := archivist.Backoff(c.n, c.base, c.max)
			lo, hi = min(lo, d), max(hi, d)
		}
		for _, j := range []string{"0", "0.999999999"} {
			got, err := client.FCall(t.Context(), fn, keys.fixed, keys.prefix, "10", c.n, int64(c.base), int64(c.max), j).Int64()
			if err != nil {
				t.Fatal(err)
			}
			d := time.Duration(got)
			// Go's jitter is random: its samples lie within the Lua bounds.
			if (j == "0" && d > lo) || (j != "0" && d < hi) {
				t.Errorf("backoff(%d, %s, %s) with jitter %s = %s; Go's samples span %s..%s", c.n, c.base, c.max, j, d, lo, hi)
			}
		}
	}
}

// TestRedisTaskBackoffMatchesGo: task_backoff in lib.lua combines a task's
// own backoff with the cluster's as archivist.RetryPolicy.ForTask does.
func TestRedisTaskBackoffMatchesGo(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	fn := loadLibFunction(t, client, "task_backoff", `
local m = {}
if ARGV[5] ~= '0' or ARGV[6] ~= '0' then m[M_BACKOFF], m[M_MAXBACKOFF] = tonumber(ARGV[5]), tonumber(ARGV[6]) end
local b, x = task_backoff({ m = m }, { base = tonumber(ARGV[3]), max = tonumber(ARGV[4]) })
return { b, x }`)
	keys, _ := newRedisKeys("taskbackoff")
	cluster := archivist.RetryPolicy{Base: time.Second, Max: time.Minute}
	for _, c := range [][2]time.Duration{{0, 0}, {5 * time.Second, 10 * time.Second}, {5 * time.Second, 0},
		{time.Hour, 0}, {0, time.Hour}, {0, 100 * time.Millisecond}} {
		want := cluster.ForTask(c[0], c[1])
		got, err := client.FCall(t.Context(), fn, keys.fixed, keys.prefix, "10", int64(cluster.Base), int64(cluster.Max),
			int64(c[0]), int64(c[1])).Int64Slice()
		if err != nil {
			t.Fatal(err)
		}
		if time.Duration(got[0]) != want.Base || time.Duration(got[1]) != want.Max {
			t.Errorf("task_backoff(%s, %s) = %s, %s; ForTask gives %s, %s", c[0], c[1],
				time.Duration(got[0]), time.Duration(got[1]), want.Base, want.Max)
		}
	}
}

// openBenchRedis opens a store for a benchmark under cluster, on
// BENCH_REDIS_URL or a Redis of its own (AOF, fsync every second), with
// the leadership, and returns a function that reads the server's CPU time
// so far (INFO cpu: user and system).
func openBenchRedis(b *testing.B, cluster string) (*Redis, archivist.Lease, func() time.Duration) {
	url := os.Getenv("BENCH_REDIS_URL")
	if url == "" {
		url = redistest.Start(b, "--appendfsync", "everysec").URL()
	}
	r, err := OpenRedis(b.Context(), RedisOptions{URL: url, Cluster: cluster, Options: Options{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = r.Close() })
	lease, err := r.Campaign(b.Context(), "leader", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	serverCPU := func() time.Duration {
		info, err := r.client.Info(context.Background(), "cpu").Result()
		if err != nil {
			b.Fatal(err)
		}
		var sum float64
		for _, line := range strings.Split(info, "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
			if k == "used_cpu_user" || k == "used_cpu_sys" {
				f, _ := strconv.ParseFloat(v, 64)
				sum += f
			}
		}
		return time.Duration(sum * float64(time.Second))
	}
	return r, lease, serverCPU
}

// BenchmarkRedisTaskFlow runs tasks through their whole life as the
// scheduler and a worker pool do: created in batches, placed and claimed in
// batches, completed concurrently (b.N tasks; see tasks/s), and reports the
// Redis server's CPU per task for each step (from INFO cpu, less what the
// INFO calls themselves cost), and that of a PING (a bare round trip).
// BENCH_FLOW_BATCH sets the batch (default 100); BENCH_FLOW_GROUPS=N puts
// the tasks in N groups, in turn (default: no group).
//
// BENCH_REDIS_URL runs it on a server of your own instead (to profile it
// with perf, say); it uses the cluster name "bench-flow" there.
func BenchmarkRedisTaskFlow(b *testing.B) {
	r, lease, serverCPU := openBenchRedis(b, "bench-flow")
	ctx := b.Context()
	// Each step's measurement costs the server what two INFO calls do
	// between their samples: measured with nothing between, and taken off
	// (with one task per call it is most of what a step measures). A PING
	// measured the same way is the cost of a bare round trip.
	probe := func(f func()) time.Duration {
		const n = 300
		var sum time.Duration
		for range n {
			c0 := serverCPU()
			f()
			sum += serverCPU() - c0
		}
		return sum / n
	}
	overhead := probe(func() {})
	roundTrip := probe(func() { r.client.Ping(ctx) }) - overhead
	steps := []string{"create", "ready", "assign", "claim", "complete"}
	cpu := make([]time.Duration, len(steps))
	step := func(i int, f func()) {
		c0 := serverCPU()
		f()
		cpu[i] += serverCPU() - c0 - overhead
	}
	batch := 100
	if v, err := strconv.Atoi(os.Getenv("BENCH_FLOW_BATCH")); err == nil && v > 0 {
		batch = v
	}
	groups, _ := strconv.Atoi(os.Getenv("BENCH_FLOW_GROUPS"))
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(batch, b.N-done)
		tasks := make([]*archivist.Task, n)
		for i := range tasks {
			tasks[i] = &archivist.Task{Type: "echo", Input: json.RawMessage(`{"n":1}`), Priority: archivist.PriorityNormal, Timeout: time.Minute}
			if groups > 0 {
				tasks[i].Group = "campaign-" + strconv.Itoa((done+i)%groups)
			}
		}
		step(0, func() {
			if err := r.CreateTasks(ctx, tasks); err != nil {
				b.Fatal(err)
			}
		})
		var ready []*archivist.Task
		var err error
		step(1, func() {
			if ready, err = r.ReadyTasks(ctx, n); err != nil {
				b.Fatal(err)
			}
		})
		as := make([]archivist.Assignment, len(ready))
		for i, t := range ready {
			as[i] = archivist.Assignment{TaskID: t.ID, NodeID: "n1"}
		}
		step(2, func() {
			if _, err := r.AssignTasks(ctx, lease, as, time.Minute); err != nil {
				b.Fatal(err)
			}
		})
		var claimed []*archivist.Task
		step(3, func() {
			if claimed, err = r.ClaimTasks(ctx, "n1", n, time.Second); err != nil {
				b.Fatal(err)
			}
		})
		step(4, func() {
			var wg sync.WaitGroup
			for _, t := range claimed {
				wg.Go(func() {
					if _, err := r.CompleteTask(ctx, t.ID, t.Attempt, json.RawMessage(`{"n":1}`)); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
		})
		done += len(claimed)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
	var total time.Duration
	for i, name := range steps {
		b.ReportMetric(float64(cpu[i].Microseconds())/float64(b.N), "redis-µs/"+name)
		total += cpu[i]
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "redis-µs/task")
	b.ReportMetric(float64(roundTrip.Nanoseconds())/1e3, "redis-µs/ping")
	// BENCH_CMDSTATS=FILE writes the server's command statistics of the
	// last run to FILE (b.Log would cut them short).
	if path := os.Getenv("BENCH_CMDSTATS"); path != "" {
		info, _ := r.client.Info(ctx, "commandstats").Result()
		if err := os.WriteFile(path, []byte(info), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRedisKeepsDelayedAndUnique: across a restart of the Redis server a
// SCHEDULED task keeps its due time and becomes PENDING on time, a unique
// key stays held by its task, and a schedule keeps its definition and
// state.
func TestRedisKeepsDelayedAndUnique(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	r := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "restart-delayed"})
	ctx := t.Context()
	later := &archivist.Task{Type: "t", Priority: archivist.PriorityNormal, Delay: 1500 * time.Millisecond}
	keyed := &archivist.Task{Type: "t", Priority: archivist.PriorityNormal, UniqueKey: "k", UniqueFor: time.Hour}
	if err := r.CreateTasks(ctx, []*archivist.Task{later, keyed}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CancelTask(ctx, keyed.ID); err != nil {
		t.Fatal(err)
	}
	next := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	if err := r.CreateSchedule(ctx, &archivist.Schedule{Name: "nightly", Cron: "0 3 * * *", Timezone: "Europe/Paris",
		NextRunAt: next, Overlap: archivist.OverlapSkip, Misfire: archivist.MisfireSkip,
		Task: &archivist.Task{Type: "t", Priority: archivist.PriorityHigh, UniqueKey: "nightly"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PauseSchedule(ctx, "nightly", true, time.Time{}); err != nil {
		t.Fatal(err)
	}

	srv.Kill()
	srv.Restart()
	var got *archivist.Task
	testkit.Eventually(t, 10*time.Second, func() bool {
		var err error
		got, err = r.GetTask(ctx, later.ID)
		return err == nil
	}, "the store answers after the restart")
	if got.Status != archivist.TaskScheduled || !got.RunAt.Equal(later.RunAt) {
		t.Fatalf("delayed task after the restart: %s at %s; want SCHEDULED at %s", got.Status, got.RunAt, later.RunAt)
	}
	testkit.Eventually(t, 10*time.Second, func() bool {
		ready, err := r.ReadyTasks(ctx, 10)
		return err == nil && len(ready) == 1 && ready[0].ID == later.ID
	}, "the delayed task becomes ready after the restart")
	dup := &archivist.Task{Type: "t", Priority: archivist.PriorityNormal, UniqueKey: "k"}
	if err := r.CreateTasks(ctx, []*archivist.Task{dup}); err != nil {
		t.Fatal(err)
	}
	if !dup.Duplicate || dup.ID != keyed.ID {
		t.Fatalf("unique key after the restart: task %s duplicate %v, want the holder %s", dup.ID, dup.Duplicate, keyed.ID)
	}
	s, err := r.GetSchedule(ctx, "nightly")
	if err != nil || s.Cron != "0 3 * * *" || s.Timezone != "Europe/Paris" || !s.Paused || !s.NextRunAt.Equal(next) ||
		s.Overlap != archivist.OverlapSkip || s.Task == nil || s.Task.Priority != archivist.PriorityHigh || s.Task.UniqueKey != "nightly" {
		t.Fatalf("schedule after the restart: %+v %v", s, err)
	}
}

// TestRedisReadRound: one call reads what a placement round needs, the
// same as NodeLoads and ReadyTasks would: the loads, and as many ready
// tasks as the free slots of the given nodes (plus the margin, at most
// max), promoting due RETRYING and SCHEDULED tasks first; with no free slot
// it reads and promotes nothing.
func TestRedisReadRound(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	r := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "round"})
	ctx := t.Context()
	var tasks []*archivist.Task
	for i := range 12 {
		tasks = append(tasks, &archivist.Task{ID: fmt.Sprintf("r-%02d", i), Type: "t", Priority: archivist.PriorityNormal, Timeout: time.Minute, MaxRetries: 3})
	}
	tasks[11].Priority = archivist.PriorityCritical
	if err := r.CreateTasks(ctx, tasks); err != nil {
		t.Fatal(err)
	}
	lease, err := r.Campaign(ctx, "leader", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.AssignTasks(ctx, lease, []archivist.Assignment{{TaskID: "r-00", NodeID: "a"}, {TaskID: "r-01", NodeID: "a"},
		{TaskID: "r-02", NodeID: "b"}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	want, err := r.NodeLoads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(ts []*archivist.Task) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.ID)
		}
		return out
	}
	for _, c := range []struct {
		workers     map[string]int
		margin, max int
		limit       int
	}{
		// a: 2 of 3 held, 1 free; b: 1 of 4, 3 free; c (no load): 2 free.
		{workers: map[string]int{"a": 3, "b": 4, "c": 2}, margin: 16, max: 100, limit: 12},
		{workers: map[string]int{"a": 3, "b": 4, "c": 2}, margin: 1, max: 100, limit: 7},
		{workers: map[string]int{"a": 3, "b": 4, "c": 2}, margin: 16, max: 4, limit: 4},
		// a node over its workers (they were lowered) frees nothing.
		{workers: map[string]int{"a": 1, "b": 2}, margin: 16, max: 100, limit: 2},
		{workers: map[string]int{"a": 2}, margin: 16, max: 100, limit: 0},
		{workers: map[string]int{}, margin: 16, max: 100, limit: 0},
	} {
		loads, got, limit, err := r.ReadRound(ctx, c.workers, c.margin, c.max)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(loads, want) {
			t.Fatalf("%v: loads %v, want %v", c.workers, loads, want)
		}
		if limit != c.limit {
			t.Fatalf("%v margin %d max %d: limit %d, want %d", c.workers, c.margin, c.max, limit, c.limit)
		}
		ready, err := r.ReadyTasks(ctx, max(limit, 1))
		if err != nil {
			t.Fatal(err)
		}
		if limit == 0 {
			ready = nil
		}
		if !slices.Equal(ids(got), ids(ready)) {
			t.Fatalf("%v: read %v, ReadyTasks gives %v", c.workers, ids(got), ids(ready))
		}
		if limit > 0 && got[0].ID != "r-11" {
			t.Fatalf("placement order: %v, want the critical task first", ids(got))
		}
	}

	// A task whose backoff is over is promoted by the round, not by a round
	// with no free slot.
	claimed, err := r.ClaimTasks(ctx, "a", 1, time.Minute)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	if _, err := r.FailTask(ctx, claimed[0].ID, claimed[0].Attempt, archivist.Failure{Error: "x",
		Retry: archivist.RetryPolicy{Base: time.Millisecond, Max: time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, func() bool {
		d, ok, err := r.NextDue(ctx)
		return err == nil && ok && d == 0
	}, "the retry is due")
	if _, got, _, err := r.ReadRound(ctx, map[string]int{"a": 1}, 16, 100); err != nil || len(got) != 0 {
		t.Fatalf("no free slot: %v %v", ids(got), err)
	}
	if tk, err := r.GetTask(ctx, claimed[0].ID); err != nil || tk.Status != archivist.TaskRetrying {
		t.Fatalf("promoted with no free slot: %v %v", tk, err)
	}
	_, got, _, err := r.ReadRound(ctx, map[string]int{"a": 10}, 16, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ids(got), claimed[0].ID) {
		t.Fatalf("the due retry was not promoted and read: %v", ids(got))
	}
}

// BenchmarkRedisCallCost reports what each call of a task's life costs the
// Redis server in CPU (from INFO cpu, once around each phase of b.N calls):
// a PING (a bare round trip), an empty function given the library's keys,
// then create, ready (one task read), assign, ready with nothing to read,
// claim and complete, one task per call (BENCH_CALL_BATCH sets how many the
// create, ready, assign and claim calls carry; a completion is one call per
// task, as a quiet worker makes it). Phases run one after another, so each
// call finds the server as a steady stream of such calls does.
func BenchmarkRedisCallCost(b *testing.B) {
	r, lease, serverCPU := openBenchRedis(b, "bench-cost")
	ctx := b.Context()
	if err := r.client.FunctionLoad(ctx, "#!lua name=archivist_bench_cost\n"+
		"redis.register_function('archivist_bench_empty', function(keys, args) return 1 end)").Err(); err != nil && !strings.Contains(err.Error(), "already exists") {
		b.Fatal(err)
	}
	batch := 1
	if v, err := strconv.Atoi(os.Getenv("BENCH_CALL_BATCH")); err == nil && v > 0 {
		batch = v
	}
	calls := max(1, b.N/batch)
	n := calls * batch
	phase := func(name string, perTask bool, f func(i int)) {
		c0 := serverCPU()
		for i := range calls {
			f(i)
		}
		d := serverCPU() - c0
		unit := "redis-µs/call-" + name
		per := float64(calls)
		if perTask && batch > 1 {
			unit, per = "redis-µs/task-"+name, float64(n)
		}
		b.ReportMetric(float64(d.Nanoseconds())/1e3/per, unit)
	}
	b.ResetTimer()
	phase("ping", false, func(int) { r.client.Ping(ctx) })
	phase("empty-fcall", false, func(int) {
		if err := r.client.FCall(ctx, "archivist_bench_empty", r.keys.fixed, r.keys.prefix, r.maxLen).Err(); err != nil {
			b.Fatal(err)
		}
	})
	ids := make([]string, 0, n)
	phase("create", true, func(int) {
		ts := make([]*archivist.Task, batch)
		for j := range ts {
			ts[j] = &archivist.Task{Type: "echo", Input: json.RawMessage(`{"n":1}`), Priority: archivist.PriorityNormal, Timeout: time.Minute}
		}
		if err := r.CreateTasks(ctx, ts); err != nil {
			b.Fatal(err)
		}
		for _, t := range ts {
			ids = append(ids, t.ID)
		}
	})
	phase("ready", true, func(int) {
		if _, err := r.ReadyTasks(ctx, batch); err != nil {
			b.Fatal(err)
		}
	})
	phase("assign", true, func(i int) {
		as := make([]archivist.Assignment, batch)
		for j := range as {
			as[j] = archivist.Assignment{TaskID: ids[i*batch+j], NodeID: "n1"}
		}
		if _, err := r.AssignTasks(ctx, lease, as, time.Hour); err != nil {
			b.Fatal(err)
		}
	})
	phase("ready-empty", false, func(int) {
		if _, err := r.ReadyTasks(ctx, batch); err != nil {
			b.Fatal(err)
		}
	})
	claimed := make([]*archivist.Task, 0, n)
	phase("claim", true, func(int) {
		ts, err := r.ClaimTasks(ctx, "n1", batch, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		claimed = append(claimed, ts...)
	})
	if len(claimed) != n {
		b.Fatalf("claimed %d of %d", len(claimed), n)
	}
	c0 := serverCPU()
	for _, t := range claimed {
		if _, err := r.CompleteTask(ctx, t.ID, t.Attempt, json.RawMessage(`{"n":1}`)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((serverCPU()-c0).Nanoseconds())/1e3/float64(n), "redis-µs/call-complete")
}
