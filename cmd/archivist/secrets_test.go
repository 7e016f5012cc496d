package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// redisContents reads every key of the server at addr by its type (GET,
// HGETALL, LRANGE, SMEMBERS, ZRANGE, XRANGE): what a leak into Redis would
// show. (Not DUMP: its compression could hide a string.)
func redisContents(t *testing.T, addr, pass string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: addr, Password: pass})
	defer c.Close()
	var keys []string
	iter := c.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN: %v", err)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		typ, err := c.Type(ctx, k).Result()
		if err != nil {
			t.Fatalf("TYPE %s: %v", k, err)
		}
		var v any
		switch typ {
		case "string":
			v, err = c.Get(ctx, k).Result()
		case "hash":
			v, err = c.HGetAll(ctx, k).Result()
		case "list":
			v, err = c.LRange(ctx, k, 0, -1).Result()
		case "set":
			v, err = c.SMembers(ctx, k).Result()
		case "zset":
			v, err = c.ZRangeWithScores(ctx, k, 0, -1).Result()
		case "stream":
			v, err = c.XRange(ctx, k, "-", "+").Result()
		case "none":
			continue // gone meanwhile
		default:
			t.Fatalf("key %s has type %s, which this dump does not read", k, typ)
		}
		if err != nil && err != redis.Nil {
			t.Fatalf("read %s (%s): %v", k, typ, err)
		}
		fmt.Fprintf(&b, "%s (%s): %v\n", k, typ, v)
	}
	return b.String()
}

// transcript keeps everything a client saw, labelled, for the final scan.
type transcript struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *transcript) add(label, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(&s.b, "=== %s\n%s\n", label, text)
}

func (s *transcript) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSecretsNeverLeak: a node started with every kind of secret (Redis
// password in the URL and in ARCHIVIST_STORE_PASSWORD, cluster secret, API
// keys plain and hashed, in flags, environment and a file, webhook URLs with
// a token in the query and in the userinfo, a TLS key) and --log-level
// debug is worked through tasks, failures, bad keys, the CLI, GraphQL
// queries and subscriptions, the HTTP endpoints, an alert to its webhooks
// (one of them down) and a Redis outage; no secret may appear in its output,
// any response, event, CLI output, webhook payload or in Redis.
func TestSecretsNeverLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	// Distinctive values, made of characters that URL encoding keeps.
	const (
		redisPass     = "RedisPass-q7Zx3Lm9Kp2Vw"
		clusterSecret = "ClusterSecret-W4tHs8Nd6Yc1"
		adminKey      = "AdminKey-Rb5Gj2Qe7Uf9Xz"
		operatorKey   = "OperatorKey-Mv3Tc8Lp1Sw6"
		hookToken     = "HookToken-Ka9Pd4Wr2Ne7"
		hookPass      = "HookPass-Ty6Bn1Vc5Mx8"
	)
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir)
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	// A hashed key made by the CLI: the key is secret, its entry is not.
	tokenOut, err := exec.Command(binPath, "token", "create", "--role", "viewer", "--name", "dash", "-o", "json").Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	var viewer struct{ Key, Entry string }
	if err := json.Unmarshal(tokenOut, &viewer); err != nil || viewer.Key == "" {
		t.Fatalf("token create printed %s: %v", tokenOut, err)
	}
	keysFile := filepath.Join(dir, "keys")
	if err := os.WriteFile(keysFile, []byte("# test keys\noperator:"+operatorKey+"\n"+viewer.Entry+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{
		"Redis password": redisPass, "cluster secret": clusterSecret, "admin key": adminKey,
		"operator key": operatorKey, "viewer key": viewer.Key, "webhook token": hookToken, "webhook password": hookPass,
	}
	for i, line := range strings.Split(string(keyPEM), "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			secrets[fmt.Sprintf("TLS key line %d", i)] = line
		}
	}

	var hooked transcript
	hits := make(chan string, 64)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hooked.add("webhook "+r.URL.Path, string(body))
		select {
		case hits <- r.URL.Path + " " + string(body):
		default:
		}
	}))
	defer hook.Close()
	hookHost := strings.TrimPrefix(hook.URL, "http://")
	deadHook := fmt.Sprintf("http://127.0.0.1:%d/dead?token=%s", redistest.FreePort(t), hookToken)
	webhooks := strings.Join([]string{
		hook.URL + "/query?token=" + hookToken,
		"http://hookuser:" + hookPass + "@" + hookHost + "/userinfo",
		deadHook, // last: its retries hold up the deliveries after it
	}, ",")

	r := redistest.StartWithPassword(t, redisPass)
	common := []string{"--cluster", "sec", "--heartbeat-interval", "200ms", "--log-level", "debug", "--api-keys-file", keysFile}
	a := startNodeEnv(t, nil, append([]string{"--store", "redis://:" + redisPass + "@" + r.Addr + "/0", "--node-id", "a",
		"--cluster-secret", clusterSecret, "--api-keys", "admin:" + adminKey, "--alert-webhooks", webhooks,
		"--tls-cert", certFile, "--tls-key", keyFile}, common...)...)
	b := startNodeEnv(t, []string{"ARCHIVIST_STORE_PASSWORD=" + redisPass, "ARCHIVIST_CLUSTER_SECRET=" + clusterSecret,
		"ARCHIVIST_API_KEYS=admin:" + adminKey},
		append([]string{"--store", "redis://" + r.Addr + "/0", "--node-id", "b", "--role", "worker"}, common...)...)

	var seen transcript
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the test's own self-signed certificate
	base := "https://" + a.addr
	do := func(method, path, key, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := hc.Do(req)
		if err != nil {
			seen.add(method+" "+path, "error: "+err.Error())
			return 0, err.Error()
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var hdr bytes.Buffer
		_ = resp.Header.Write(&hdr)
		seen.add(fmt.Sprintf("%s %s -> %d", method, path, resp.StatusCode), hdr.String()+"\n"+string(raw))
		return resp.StatusCode, string(raw)
	}
	gql := func(key, query string, vars map[string]any) gqlResponse {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		_, raw := do("POST", "/graphql", key, string(body))
		var out gqlResponse
		_ = json.Unmarshal([]byte(raw), &out)
		return out
	}
	mustGQL := func(key, query string, vars map[string]any, out any) {
		t.Helper()
		res := gql(key, query, vars)
		if len(res.Errors) > 0 {
			t.Fatalf("%s: %+v", query, res.Errors)
		}
		if out != nil {
			if err := json.Unmarshal(res.Data, out); err != nil {
				t.Fatalf("decode %s: %v", res.Data, err)
			}
		}
	}
	testkit.Eventually(t, 20*time.Second, func() bool {
		var out struct{ Nodes []struct{ ID, Status string } }
		mustGQL(adminKey, `{ nodes { id status } }`, nil, &out)
		online := 0
		for _, n := range out.Nodes {
			if n.Status == "ONLINE" {
				online++
			}
		}
		return online == 2
	}, "a and b online")

	// Subscriptions over WSS, every event kept.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "wss://"+a.addr+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"}, HTTPClient: hc})
	if err != nil {
		t.Fatalf("wss: %v", err)
	}
	defer conn.CloseNow()
	ws := &wsClient{conn: conn}
	ws.send(t, ctx, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + operatorKey}})
	if m := ws.read(t, ctx); m["type"] != "connection_ack" {
		t.Fatalf("connection_init: %v", m)
	}
	const nodeFields = `id name address role status capabilities taskTypes workers activeTasks isLeader lastHeartbeat startedAt version discovery configVersion health { cpuPercent memoryPercent load1 load5 load15 sampledAt }`
	const taskFields = `id type status priority input result error attempts failures maxRetries timeoutSeconds progress progressMessage nodeId metadata cancelRequested createdAt updatedAt assignedAt startedAt completedAt runAt`
	const alertFields = `id rule subject severity status message value startedAt resolvedAt`
	ws.subscribe(t, ctx, "tasks", `subscription { taskUpdated { `+taskFields+` } }`)
	ws.subscribe(t, ctx, "nodes", `subscription { nodeUpdated { `+nodeFields+` } }`)
	ws.subscribe(t, ctx, "alerts", `subscription { alertUpdated { `+alertFields+` } }`)
	var events transcript
	eventCount := 0
	var evMu sync.Mutex
	go func() {
		for {
			_, msg, err := conn.Read(ctx)
			if err != nil {
				return
			}
			events.add("ws", string(msg))
			evMu.Lock()
			eventCount++
			evMu.Unlock()
			if bytes.Contains(msg, []byte(`"ping"`)) {
				_ = conn.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
			}
		}
	}()

	// Tasks that complete, fail and retry.
	const submit = `mutation($in: SubmitTaskInput!) { submitTask(input: $in) { id } }`
	var ids []string
	for _, in := range []map[string]any{
		{"type": "echo", "input": map[string]any{"hello": "world"}},
		{"type": "fail", "input": map[string]any{"times": 5}, "maxRetries": 0},
		{"type": "fail", "input": map[string]any{"times": 1}, "maxRetries": 2},
		{"type": "sleep", "input": map[string]any{"ms": 50}},
		{"type": "dice.simulate", "input": map[string]any{"expr": "2d6", "trials": 10}},
	} {
		var out struct{ SubmitTask struct{ ID string } }
		mustGQL(operatorKey, submit, map[string]any{"in": in}, &out)
		ids = append(ids, out.SubmitTask.ID)
	}
	for _, id := range ids {
		testkit.Eventually(t, 30*time.Second, func() bool {
			var out struct{ Task struct{ Status string } }
			mustGQL(viewer.Key, `query($id: ID!) { task(id: $id) { status } }`, map[string]any{"id": id}, &out)
			return out.Task.Status == "COMPLETED" || out.Task.Status == "FAILED"
		}, "task %s to finish", id)
	}

	// Bad keys, some of them close to real ones.
	for _, key := range []string{"", "wrong-key-0000000000000", adminKey + "-x", "x" + operatorKey, viewer.Key[:len(viewer.Key)-1]} {
		if res := gql(key, `{ nodes { id } config { version } }`, nil); len(res.Errors) == 0 {
			t.Errorf("key %q accepted", key)
		}
	}
	if res := gql(viewer.Key, `mutation { updateConfig(input: {workers: 3}) { version } }`, nil); len(res.Errors) == 0 {
		t.Errorf("a viewer changed the config")
	}
	badWS, _, err := websocket.Dial(ctx, "wss://"+a.addr+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"}, HTTPClient: hc})
	if err == nil {
		b, _ := json.Marshal(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + adminKey + "-x"}})
		_ = badWS.Write(ctx, websocket.MessageText, b)
		_, msg, err := badWS.Read(ctx)
		seen.add("ws with a bad key", fmt.Sprintf("%s %v", msg, err))
		badWS.CloseNow()
	}

	// Every query that shows configuration, nodes, tasks and the session.
	queries := []string{
		`{ config { version enabled discovery peers heartbeatIntervalMs missedHeartbeats defaultTimeoutSeconds defaultMaxRetries strategy faultTolerance thresholds { cpuPercent memoryPercent load1 } workers retentionSeconds retryBackoffMs maxBackoffMs updatedAt } }`,
		`{ nodes { ` + nodeFields + ` } leader { id } }`,
		`{ tasks(first: 50) { totalCount edges { node { ` + taskFields + ` node { id address } } } } }`,
		`{ session { authRequired authenticated role insecure tls warnings } }`,
		`{ alerts(includeResolved: true) { ` + alertFields + ` } taskTypes }`,
	}
	for _, q := range queries {
		mustGQL(adminKey, q, nil, nil)
	}
	mustGQL(adminKey, `mutation { updateConfig(input: {workers: 5}) { version workers } }`, nil, nil)
	for _, p := range []string{"/metrics", "/healthz", "/readyz", "/", "/playground"} {
		do("GET", p, "", "")
		do("GET", p, adminKey, "")
	}

	// The CLI, with the secrets in its environment too.
	cliEnv := append(os.Environ(), "ARCHIVIST_SERVER="+base, "ARCHIVIST_INSECURE_SKIP_VERIFY=true",
		"ARCHIVIST_STORE_PASSWORD="+redisPass, "ARCHIVIST_CLUSTER_SECRET="+clusterSecret)
	runCLI := func(key string, args ...string) {
		t.Helper()
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(c, binPath, args...)
		cmd.Env = append(cliEnv, "ARCHIVIST_TOKEN="+key)
		out, err := cmd.CombinedOutput()
		seen.add(fmt.Sprintf("archivist %s (%v)", strings.Join(args, " "), err), string(out))
	}
	for _, args := range [][]string{
		{"config", "get"}, {"config", "get", "-o", "json"}, {"config", "set", "workers=4"},
		{"nodes", "list"}, {"nodes", "list", "-o", "json"}, {"tasks", "list"}, {"tasks", "list", "-o", "json"},
		{"tasks", "get", ids[1]}, {"tasks", "get", ids[1], "-o", "json"},
		{"submit", "echo", "--input", `{"via":"cli"}`, "--wait"}, {"submit", "fail", "--input", `{"times":9}`, "--wait", "-o", "json"},
		{"config", "init"}, {"version"},
	} {
		runCLI(adminKey, args...)
	}
	runCLI(adminKey+"-x", "nodes", "list")
	runCLI(viewer.Key, "config", "set", "workers=2")
	{
		// The watch is searched once it has shown a task submitted while
		// it watches (an echo, submitted again until one shows: nothing
		// says when its subscription is live), so it cannot pass for
		// having printed nothing.
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(c, binPath, "watch", "tasks")
		cmd.Env = append(cliEnv, "ARCHIVIST_TOKEN="+viewer.Key)
		var out testkit.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 20*time.Second, func() bool {
			runCLI(operatorKey, "submit", "echo", "--input", `{"watched":true}`, "--wait")
			return strings.Contains(out.String(), " echo ")
		}, "archivist watch tasks to show an echo task submitted while it watches; it printed %q", &out)
		cancel()
		_ = cmd.Wait()
		seen.add("archivist watch tasks", out.String())
	}
	for _, args := range [][]string{{"serve", "--help"}, {"serve", "--alert-webhooks", "ftp://u:" + hookPass + "@h/x?token=" + hookToken}} {
		cmd := exec.Command(binPath, args...)
		cmd.Env = append(cliEnv, "XDG_DATA_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		seen.add(fmt.Sprintf("archivist %s (%v)", args[1], err), string(out)) // the arguments hold secrets
	}

	// An alert: b dies; the leader (a) sends node_offline to the webhooks,
	// the last of which is down.
	b.kill()
	for got := map[string]bool{}; !got["/query"] || !got["/userinfo"]; {
		select {
		case h := <-hits:
			if strings.Contains(h, "node_offline") && strings.Contains(h, `"subject":"b"`) {
				got[strings.Fields(h)[0]] = true
			}
		case <-time.After(60 * time.Second): // the dead webhook's retries of an earlier alert come first
			t.Fatalf("the node_offline alert did not reach both live webhooks within 60s: %v", got)
		}
	}
	waitLog(t, a, 20*time.Second, "a to log the failed webhook delivery", "webhook delivery failed")

	// Redis goes away: a logs errors, answers errors; then Redis is back.
	r.Kill()
	waitLog(t, a, 20*time.Second, "a to notice that Redis is gone", "lost the store")
	do("GET", "/readyz", "", "")
	gql(adminKey, `{ nodes { id } config { version } }`, nil)
	gql(operatorKey, submit, map[string]any{"in": map[string]any{"type": "echo", "input": 1}})
	runCLI(adminKey, "nodes", "list")
	time.Sleep(2 * time.Second) // let retries and reconnects log
	r.Restart()
	waitLog(t, a, 30*time.Second, "a to reconnect", "store reachable again")
	mustGQL(adminKey, queries[1], nil, nil)
	evMu.Lock()
	n := eventCount
	evMu.Unlock()
	if n < 10 {
		t.Errorf("only %d subscription messages: the subscriptions did not work", n)
	}
	cancel()
	a.stop(t)

	dump := redisContents(t, r.Addr, redisPass)
	if !strings.Contains(dump, "admissionProof") {
		t.Errorf("the Redis dump holds no node: %.1000s", dump)
	}
	places := map[string]string{
		"node a's output":          a.logs.String(),
		"node b's output":          b.logs.String(),
		"HTTP and CLI transcripts": seen.String(),
		"subscription messages":    events.String(),
		"webhook payloads":         hooked.String(),
		"Redis":                    dump,
	}
	for place, text := range places {
		for what, s := range secrets {
			if i := strings.Index(text, s); i >= 0 {
				t.Errorf("the %s appears in %s: …%s…", what, place, text[max(0, i-300):min(len(text), i+len(s)+100)])
			}
		}
	}
	if t.Failed() {
		t.Logf("transcripts:\n%s", seen.String())
	}
	t.Logf("checked %d secrets over %s of node output, %d subscription messages, %s of transcripts and %s of Redis",
		len(secrets), size(len(a.logs.String())+len(b.logs.String())), n, size(len(seen.String())), size(len(dump)))
}

func size(n int) string { return strconv.Itoa(n/1024) + " KiB" }
