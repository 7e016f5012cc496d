package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rpg-archivist/archivist/store"
)

func TestRoutes(t *testing.T) {
	t.Parallel()
	st := store.NewMemory(store.Options{})
	t.Cleanup(func() { st.Close() })
	ready := errors.New("store down")
	s := New(Config{
		GraphQL:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "graphql "+r.Method) }),
		Dashboard: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "dashboard") }),
		Metrics:   NewMetrics(StateSource{Store: st}),
		Ready: func(context.Context) error {
			return ready
		},
	})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	get := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		method, path string
		code         int
		contains     string
	}{
		{"POST", "/graphql", 200, "graphql POST"},
		{"GET", "/graphql", 200, "graphql GET"},
		{"GET", "/", 200, "dashboard"},
		{"GET", "/tasks/abc", 200, "dashboard"},
		{"GET", "/playground", 200, "GraphiQL"},
		{"GET", "/healthz", 200, "ok"},
		{"GET", "/readyz", 503, "store down"},
		{"GET", "/metrics", 200, `archivist_tasks{status="PENDING"} 0`},
	} {
		code, body := get(c.method, c.path)
		if code != c.code || !strings.Contains(body, c.contains) {
			t.Errorf("%s %s: %d %q, want %d containing %q", c.method, c.path, code, body, c.code, c.contains)
		}
	}
	ready = nil
	if code, _ := get("GET", "/readyz"); code != 200 {
		t.Errorf("readyz after recovery: %d", code)
	}
}

func TestSelfSignedTLS(t *testing.T) {
	t.Parallel()
	s := New(Config{Addr: "127.0.0.1:0", TLS: TLSConfig{SelfSigned: true},
		Dashboard: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "dashboard") })})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	if !strings.HasPrefix(s.URL(), "https://") {
		t.Fatalf("URL %s", s.URL())
	}
	// Plain HTTP is refused; HTTPS answers (the test trusts the self-signed
	// certificate explicitly).
	if resp, err := http.Get("http://" + s.Addr() + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Fatal("plain HTTP answered on a TLS server")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get(s.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("HTTPS: %d %+v", resp.StatusCode, resp.TLS)
	}
	if _, err := (TLSConfig{CertFile: "x.pem"}).Load(); err == nil {
		t.Fatal("a certificate without a key was accepted")
	}
}

// TestTLSHardening: HTTPS responses carry HSTS (an hour with a self-signed
// certificate), and TLS 1.2 offers AEAD suites only: a client that knows
// only the CBC-SHA1 ones cannot connect, one with GCM can.
func TestTLSHardening(t *testing.T) {
	t.Parallel()
	s := New(Config{Addr: "127.0.0.1:0", TLS: TLSConfig{SelfSigned: true}})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	get := func(cfg *tls.Config) (*http.Response, error) {
		cfg.InsecureSkipVerify = true
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
		resp, err := client.Get(s.URL() + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	resp, err := get(&tls.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=3600" {
		t.Errorf("HSTS with a self-signed certificate: %q", got)
	}
	if _, err := get(&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA}}); err == nil {
		t.Error("a TLS 1.2 client with only CBC-SHA1 suites connected")
	}
	if _, err := get(&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}); err != nil {
		t.Errorf("a TLS 1.2 client with AES-GCM: %v", err)
	}
	if v := (TLSConfig{CertFile: "c.pem", KeyFile: "k.pem"}).hstsValue(); v != "max-age=31536000" {
		t.Errorf("HSTS with a certificate of one's own: %q", v)
	}
	// Plain HTTP gets none.
	plain := New(Config{Addr: "127.0.0.1:0"})
	rec := httptest.NewRecorder()
	plain.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if got := rec.Header().Get("Strict-Transport-Security"); got != "" {
		t.Errorf("HSTS over plain HTTP: %q", got)
	}
}
