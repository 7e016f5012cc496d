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
