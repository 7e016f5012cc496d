package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/server"
)

// TestSecurityRefusesOpenNonLoopback: a node that would listen beyond
// loopback without API keys does not start, and says what to do.
func TestSecurityRefusesOpenNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "archivist.example:0", "app.localhost:0"} {
		cmd := exec.Command(binPath, "serve", "--http", addr)
		cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("--http %s without keys: %v, want exit code 2\n%s", addr, err, out)
		}
		for _, want := range []string{"beyond loopback", "--api-keys", "archivist token create", "--insecure"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("--http %s: the error does not mention %q:\n%s", addr, want, out)
			}
		}
	}
	// A malformed key entry is refused without echoing the key.
	cmd := exec.Command(binPath, "serve", "--api-keys", "emperor:not-a-real-key-123456")
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--api-keys") || strings.Contains(string(out), "not-a-real-key") {
		t.Fatalf("bad --api-keys entry: %v\n%s", err, out)
	}
}

type madeKey struct{ Key, Role, Entry string }

// makeKey runs `archivist token create`.
func makeKey(t *testing.T, role string) madeKey {
	t.Helper()
	out, err := exec.Command(binPath, "token", "create", "--role", role, "--name", role+"-test", "-o", "json").Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	var k madeKey
	if err := json.Unmarshal(out, &k); err != nil || !strings.HasPrefix(k.Key, "arch_") || k.Role != role ||
		!strings.HasPrefix(k.Entry, role+" sha256:") || strings.Contains(k.Entry, k.Key) {
		t.Fatalf("token create printed %s (%v)", out, err)
	}
	return k
}

// TestSecurityAPIKeys: a node given hashed keys in a file serves each role
// what it may do, over HTTP, the WebSocket and the CLI, and never logs a key.
func TestSecurityAPIKeys(t *testing.T) {
	t.Parallel() // its own node(s), store and ports: it can run beside the others (see e2e_test.go)
	keys := map[string]madeKey{}
	var file strings.Builder
	file.WriteString("# keys of the test cluster\n\n")
	for _, r := range []string{"viewer", "operator", "admin"} {
		keys[r] = makeKey(t, r)
		file.WriteString(keys[r].Entry + "\n")
	}
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, "--api-keys-file", path, "--log-level", "debug")

	// The session answers without a key, and tells a client to ask for one.
	var sess struct {
		Session struct {
			AuthRequired, Authenticated, Insecure bool
			Role                                  *string
		}
	}
	n.gql(t, `{ session { authRequired authenticated insecure role } }`, nil, &sess)
	if s := sess.Session; !s.AuthRequired || s.Authenticated || s.Insecure || s.Role != nil {
		t.Fatalf("session without a key: %+v", s)
	}
	// Anything else needs a key.
	if code, r := n.post(t, `{"query":"{ nodes { id } }"}`); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("nodes without a key: %d %+v", code, r)
	}
	if code, r := n.post(t, `{"query":"{ session { role } nodes { id } }"}`); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("session next to nodes without a key: %d %+v", code, r)
	}

	// The CLI, by role.
	run := func(token string, args ...string) (string, string, int) {
		t.Helper()
		return runArchivist(t, []string{"ARCHIVIST_SERVER=http://" + n.addr, "ARCHIVIST_TOKEN=" + token}, args...)
	}
	expect := func(token string, wantCode string, args ...string) string {
		t.Helper()
		out, errs, code := run(token, args...)
		switch {
		case wantCode == "" && code != 0:
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		case wantCode != "" && (code == 0 || !strings.Contains(errs, wantCode)):
			t.Fatalf("%v: exit %d, stderr %q; want %s", args, code, errs, wantCode)
		}
		return out
	}
	expect("", "UNAUTHENTICATED", "nodes", "list")
	expect("arch_wrongwrongwrongwrongwrong", "UNAUTHENTICATED", "tasks", "list")
	expect(keys["viewer"].Key, "", "nodes", "list")
	expect(keys["viewer"].Key, "FORBIDDEN", "submit", "echo", "--input", `{"x":1}`)
	out := expect(keys["operator"].Key, "", "submit", "echo", "--input", `{"x":1}`, "--wait", "-o", "json")
	if !strings.Contains(out, `"COMPLETED"`) {
		t.Fatalf("operator's task did not complete: %s", out)
	}
	expect(keys["operator"].Key, "FORBIDDEN", "config", "set", "workers=3")
	expect(keys["admin"].Key, "", "config", "set", "workers=3")
	if out := expect(keys["viewer"].Key, "", "config", "get", "-o", "json"); !strings.Contains(out, `"workers": 3`) {
		t.Fatalf("config after the admin's change: %s", out)
	}

	// WebSocket: the key goes in connection_init; without one the
	// connection is closed with 4401.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, payload := range []map[string]any{{}, {"Authorization": "Bearer arch_notakeynotakeynotakey"}} {
		conn, _, err := websocket.Dial(ctx, "ws://"+n.addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(map[string]any{"type": "connection_init", "payload": payload})
		_ = conn.Write(ctx, websocket.MessageText, b)
		_, _, err = conn.Read(ctx)
		if websocket.CloseStatus(err) != 4401 {
			t.Fatalf("connection_init %v: %v, want close 4401", payload, err)
		}
	}
	conn, _, err := websocket.Dial(ctx, "ws://"+n.addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	ws := &wsClient{conn: conn}
	ws.send(t, ctx, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + keys["viewer"].Key}})
	if m := ws.read(t, ctx); m["type"] != "connection_ack" {
		t.Fatalf("viewer's connection_init: %v", m)
	}
	ws.subscribe(t, ctx, "1", `subscription { taskUpdated { id status } }`)
	expect(keys["operator"].Key, "", "submit", "echo", "--input", `{"y":2}`)
	if ev := ws.next(t, ctx, "1"); !strings.Contains(string(ev), "taskUpdated") {
		t.Fatalf("event: %s", ev)
	}
	conn.Close(websocket.StatusNormalClosure, "")

	// /metrics needs a key of any role; /healthz does not.
	get := func(path, key string) int {
		resp, _ := n.call(t, "GET", path, key, "", nil)
		return resp.StatusCode
	}
	if c := get("/metrics", ""); c != http.StatusUnauthorized {
		t.Errorf("/metrics without a key: %d, want 401", c)
	}
	if c := get("/metrics", keys["viewer"].Key); c != http.StatusOK {
		t.Errorf("/metrics with a viewer key: %d", c)
	}
	if c := get("/healthz", ""); c != http.StatusOK {
		t.Errorf("/healthz without a key: %d", c)
	}

	for r, k := range keys {
		if strings.Contains(n.logs.String(), k.Key) {
			t.Errorf("the %s key appears in the node's log", r)
		}
	}
}

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	cert, err := server.SelfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestSecurityTLS: HTTPS and WSS with certificate files, verified by the
// CLI against the CA file; a self-signed node is refused by a verifying
// client and reached with --insecure-skip-verify.
func TestSecurityTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir)
	n := startNode(t, "--tls-cert", certFile, "--tls-key", keyFile)
	testkit.Eventually(t, 10*time.Second, func() bool {
		return strings.Contains(n.logs.String(), "dashboard=https://")
	}, "the log to give the https URL")
	cliTLS := func(server string, args ...string) (string, string, int) {
		t.Helper()
		return runArchivist(t, []string{"ARCHIVIST_SERVER=" + server}, args...)
	}
	url := "https://" + n.addr
	if _, errs, code := cliTLS(url, "nodes", "list"); code == 0 || !strings.Contains(errs, "certificate") {
		t.Fatalf("unverified certificate accepted: exit %d %s", code, errs)
	}
	if _, errs, code := cliTLS(url, "submit", "echo", "--input", "{}", "--wait", "--ca-cert", certFile); code != 0 {
		t.Fatalf("with --ca-cert: exit %d %s", code, errs)
	}
	// Plain HTTP to the TLS port gets nothing of the API.
	if resp, err := http.Post("http://"+n.addr+"/graphql", "application/json", strings.NewReader(`{"query":"{ nodes { id } }"}`)); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(b), "nodes") {
			t.Fatalf("plain HTTP to the TLS port: %d %s", resp.StatusCode, b)
		}
	}
	// WSS, verified against the certificate.
	pool := x509.NewCertPool()
	pemBytes, _ := os.ReadFile(certFile)
	pool.AppendCertsFromPEM(pemBytes)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "wss://"+n.addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPClient: hc})
	if err != nil {
		t.Fatalf("wss: %v", err)
	}
	ws := &wsClient{conn: conn}
	ws.send(t, ctx, map[string]any{"type": "connection_init"})
	if m := ws.read(t, ctx); m["type"] != "connection_ack" {
		t.Fatalf("wss connection_init: %v", m)
	}
	conn.Close(websocket.StatusNormalClosure, "")

	s := startNode(t, "--tls-self-signed")
	if _, errs, code := cliTLS("https://"+s.addr, "nodes", "list"); code == 0 || !strings.Contains(errs, "certificate") {
		t.Fatalf("self-signed certificate accepted without --insecure-skip-verify: exit %d %s", code, errs)
	}
	if _, errs, code := cliTLS("https://"+s.addr, "nodes", "list", "--insecure-skip-verify"); code != 0 {
		t.Fatalf("--insecure-skip-verify: exit %d %s", code, errs)
	}
}

// TestSecurityOrigins: pages of other web sites cannot use the API (POST,
// preflight, WebSocket) unless their origin is allowed; a node without keys
// answers only to loopback host names (no DNS rebinding).
func TestSecurityOrigins(t *testing.T) {
	n := startNode(t, "--allowed-origins", "https://app.example.com,https://*.tools.example")
	do := func(method, origin, host string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		all := map[string]string{}
		for k, v := range hdr {
			all[k] = v
		}
		if origin != "" {
			all["Origin"] = origin
		}
		if host != "" {
			all["Host"] = host
		}
		return n.call(t, method, "/graphql", "", `{"query":"{ taskTypes }"}`, all)
	}
	if resp, body := do("POST", "https://evil.example", "", nil); resp.StatusCode != http.StatusForbidden ||
		!strings.Contains(body, "FORBIDDEN") || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin: %d %s", resp.StatusCode, body)
	}
	if resp, body := do("POST", "https://app.example.com", "", nil); resp.StatusCode != 200 ||
		resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || !strings.Contains(body, "echo") {
		t.Fatalf("allowed origin: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp, _ := do("OPTIONS", "https://x.tools.example", "", map[string]string{"Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization, content-type"})
	if resp.StatusCode != http.StatusNoContent || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight from an allowed pattern: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := do("POST", "http://"+n.addr, "", nil); resp.StatusCode != 200 {
		t.Fatalf("same origin: %d", resp.StatusCode)
	}
	// DNS rebinding: a foreign host name pointed at 127.0.0.1.
	if resp, body := do("POST", "", "evil.example:80", nil); resp.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(body, "loopback") {
		t.Fatalf("foreign Host on a node without keys: %d %s", resp.StatusCode, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dial := func(origin string) error {
		conn, _, err := websocket.Dial(ctx, "ws://"+n.addr+"/graphql", &websocket.DialOptions{
			Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: http.Header{"Origin": {origin}}})
		if err == nil {
			conn.Close(websocket.StatusNormalClosure, "")
		}
		return err
	}
	if err := dial("https://evil.example"); err == nil {
		t.Fatal("a WebSocket from a foreign origin was accepted")
	}
	if err := dial("https://app.example.com"); err != nil {
		t.Fatalf("a WebSocket from an allowed origin: %v", err)
	}
}

// TestSecurityProductionSwitches: introspection and the playground can be
// turned off.
func TestSecurityProductionSwitches(t *testing.T) {
	n := startNode(t, "--no-introspection", "--no-playground")
	if _, r := n.post(t, `{"query":"{ __schema { types { name } } }"}`); len(r.Errors) == 0 {
		t.Fatalf("introspection answered: %s", r.Data)
	}
	var out struct{ TaskTypes []string }
	n.gql(t, `{ taskTypes }`, nil, &out)
	if len(out.TaskTypes) == 0 {
		t.Fatal("no task types")
	}
	resp, err := http.Get("http://" + n.addr + "/playground")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || strings.Contains(string(b), "GraphiQL") || !strings.Contains(string(b), "--no-playground") {
		t.Fatalf("/playground with --no-playground: %d %s", resp.StatusCode, b)
	}
}

// TestSecurityLimits: the rate limit per key and the WebSocket connection
// cap, set by flags on a real node.
func TestSecurityLimits(t *testing.T) {
	a, b := makeKey(t, "viewer"), makeKey(t, "viewer")
	n := startNode(t, "--api-keys", a.Entry+","+b.Entry, "--rate-limit", "0.5", "--rate-burst", "3", "--max-websockets", "1")
	post := func(key string) (int, string) {
		resp, body := n.call(t, "POST", "/graphql", key, `{"query":"{ taskTypes }"}`, nil)
		return resp.StatusCode, body
	}
	for i := range 3 {
		if code, body := post(a.Key); code != 200 {
			t.Fatalf("request %d of a burst of 3: %d %s", i+1, code, body)
		}
	}
	if code, body := post(a.Key); code != http.StatusTooManyRequests || !strings.Contains(body, "RATE_LIMITED") {
		t.Fatalf("4th request at once: %d %s", code, body)
	}
	if code, body := post(b.Key); code != 200 {
		t.Fatalf("another key is limited by the first one's use: %d %s", code, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	first, _, err := websocket.Dial(ctx, "ws://"+n.addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close(websocket.StatusNormalClosure, "")
	_, resp, err := websocket.Dial(ctx, "ws://"+n.addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a second WebSocket over --max-websockets 1: %v %v", err, resp)
	}
}

// TestSecurityKeyReload: SIGHUP reloads the keys file. A removed key stops
// working at once, over HTTP, and a WebSocket opened with it is closed; a
// key's new role applies; a reload that would turn authentication off is
// refused and changes nothing.
func TestSecurityKeyReload(t *testing.T) {
	a, b := makeKey(t, "viewer"), makeKey(t, "viewer")
	path := filepath.Join(t.TempDir(), "keys")
	write := func(lines ...string) {
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(a.Entry, b.Entry)
	n := startNode(t, "--api-keys-file", path)
	ask := func(key, query string) string {
		body, _ := json.Marshal(map[string]any{"query": query})
		_, raw := n.call(t, "POST", "/graphql", key, string(body), nil)
		var r gqlResponse
		_ = json.Unmarshal([]byte(raw), &r)
		return r.code()
	}
	const submit = `mutation { submitTask(input: {type: "echo", input: {}}) { id } }`
	if c := ask(b.Key, submit); c != "FORBIDDEN" {
		t.Fatalf("viewer b submits: %q", c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+n.addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(websocket.StatusNormalClosure, "")
	ws := &wsClient{conn: conn}
	ws.send(t, ctx, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + a.Key}})
	if m := ws.read(t, ctx); m["type"] != "connection_ack" {
		t.Fatalf("a's connection_init: %v", m)
	}

	// a removed, b now an operator.
	write(strings.Replace(b.Entry, "viewer ", "operator ", 1))
	reloads := strings.Count(n.logs.String(), "API keys reloaded")
	_ = n.cmd.Process.Signal(syscall.SIGHUP)
	testkit.Eventually(t, 10*time.Second, func() bool {
		return strings.Count(n.logs.String(), "API keys reloaded") > reloads
	}, "the keys to be reloaded")
	if c := ask(a.Key, `{ taskTypes }`); c != "UNAUTHENTICATED" {
		t.Errorf("removed key a over HTTP: %q", c)
	}
	if c := ask(b.Key, submit); c != "" {
		t.Errorf("b, now an operator, submits: %q", c)
	}
	// a's WebSocket is closed by the reload (4401); see also
	// TestSecurityKeyRevokeClosesWebsockets.
	if _, msg, err := conn.Read(ctx); websocket.CloseStatus(err) != 4401 {
		t.Errorf("a's WebSocket after the reload: %s %v, want closed with 4401", msg, err)
	}

	// An empty file would turn authentication off: refused.
	write("# nobody")
	_ = n.cmd.Process.Signal(syscall.SIGHUP)
	testkit.Eventually(t, 10*time.Second, func() bool {
		return strings.Contains(n.logs.String(), "API keys not reloaded")
	}, "the reload to be refused")
	if c := ask(b.Key, `{ taskTypes }`); c != "" {
		t.Errorf("b after a refused reload: %q", c)
	}
	if c := ask("", `{ taskTypes }`); c != "UNAUTHENTICATED" {
		t.Errorf("no key after a refused reload: %q", c)
	}
}
