package app

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoopbackAddr(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.8.9.1:0": true, "[::1]:8080": true, "localhost:8080": true, "LOCALHOST:1": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:8080": false, "192.0.2.1:80": false, "169.254.1.1:80": false,
		"example.com:80": false, "localhost.example.com:80": false, "nonsense": false,
		// Names under .localhost may be resolved through DNS: not loopback.
		"app.localhost:8080": false, "localhost.:8080": false,
	} {
		if got := loopbackAddr(addr); got != want {
			t.Errorf("loopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestSecurityOptions(t *testing.T) {
	t.Parallel()
	keysFile := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keysFile, []byte("# ops\noperator sha256:"+strings.Repeat("ab", 32)+" ci\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := func(args []string, getenv map[string]string) *Options {
		t.Helper()
		o, err := parseServe(args, env(getenv), io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return o
	}
	bad := func(args []string, getenv map[string]string, want string) {
		t.Helper()
		_, err := parseServe(args, env(getenv), io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v %v: error %v, want one mentioning %q", args, getenv, err, want)
		}
	}

	// Loopback without keys: open, and not insecure.
	o := ok(nil, nil)
	if o.authRequired() || o.insecure() {
		t.Errorf("default node: auth %v insecure %v", o.authRequired(), o.insecure())
	}
	// Beyond loopback: keys, or --insecure, or refused.
	bad([]string{"--http", "0.0.0.0:8080"}, nil, "--insecure")
	bad([]string{"--node-id", "node one"}, nil, "--node-id")
	bad([]string{"--node-id", strings.Repeat("n", 129)}, nil, "--node-id")
	ok([]string{"--node-id", "eu-1.node_7:a"}, nil)
	o = ok([]string{"--http", "0.0.0.0:8080", "--insecure"}, nil)
	if !o.insecure() || o.authRequired() {
		t.Errorf("--insecure: insecure %v auth %v", o.insecure(), o.authRequired())
	}
	o = ok([]string{"--http", "0.0.0.0:8080"}, map[string]string{"ARCHIVIST_API_KEYS": "admin:0123456789abcdef0123"})
	if !o.authRequired() || o.insecure() || o.keys.Len() != 1 {
		t.Errorf("keys from the environment: auth %v insecure %v keys %d", o.authRequired(), o.insecure(), o.keys.Len())
	}
	o = ok([]string{"--http", "[::]:8080", "--api-keys-file", keysFile, "--api-keys", "viewer:0123456789abcdef0123"}, nil)
	if o.keys.Len() != 2 {
		t.Errorf("keys from the file and the flag: %d", o.keys.Len())
	}
	bad([]string{"--api-keys", "viewer:short"}, nil, "16 characters")
	bad([]string{"--api-keys", "root:0123456789abcdef0123"}, nil, "--api-keys")
	bad([]string{"--api-keys-file", filepath.Join(t.TempDir(), "missing")}, nil, "--api-keys-file")

	bad([]string{"--tls-cert", "c.pem"}, nil, "go together")
	bad([]string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-self-signed"}, nil, "choose one")
	if o := ok([]string{"--tls-self-signed"}, nil); !o.tls().Enabled() {
		t.Error("--tls-self-signed: TLS not enabled")
	}

	ok([]string{"--allowed-origins", "https://app.example.com, https://*.example.org,tools.example:8443"}, nil)
	bad([]string{"--allowed-origins", "*"}, nil, "every web site")
	bad([]string{"--allowed-origins", "https://app.example.com/path"}, nil, "no path")
	bad([]string{"--allowed-origins", "https://[a"}, nil, "--allowed-origins")
}
