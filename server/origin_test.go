package server

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestOriginAllowed(t *testing.T) {
	t.Parallel()
	patterns := []string{"https://app.example.com", "*.tools.example", "http://localhost:5173"}
	for _, c := range []struct {
		origin, host string
		want         bool
	}{
		{"http://127.0.0.1:8080", "127.0.0.1:8080", true},   // the node's own origin
		{"https://127.0.0.1:8080", "127.0.0.1:8080", false}, // not its scheme
		{"http://node", "node:80", true},                    // a default port, spelled out or not
		{"http://node:80", "node", true},
		{"https://node", "node", false}, // https://node is node:443, another server than http://node
		{"http://node:8081", "node:8080", false},
		{"https://app.example.com", "node:8080", true},
		{"http://app.example.com", "node:8080", false}, // the scheme is part of a pattern with ://
		{"https://a.tools.example", "node:8080", true},
		{"http://a.tools.example", "node:8080", true}, // a host pattern matches any scheme
		{"https://tools.example", "node:8080", false},
		{"http://localhost:5173", "node:8080", true},
		{"http://localhost:5174", "node:8080", false},
		{"https://evil.example", "node:8080", false},
		{"null", "node:8080", false},
		{"", "node:8080", false},
	} {
		if got := originAllowed(patterns, c.origin, "http", c.host); got != c.want {
			t.Errorf("originAllowed(%q, host %q) = %v, want %v", c.origin, c.host, got, c.want)
		}
	}
}

func TestLoopbackHost(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:8080": true, "localhost": true, "[::1]:8080": true, "app.localhost:80": false, "localhost.": false,
		"127.0.0.1": true, "127.1.2.3:80": true, "LOCALHOST:1": true, "evil.example:8080": false, "192.0.2.1:8080": false, "": false, "localhost.evil.example": false,
	} {
		if got := LoopbackHost(host); got != want {
			t.Errorf("LoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestCheckOriginPattern(t *testing.T) {
	t.Parallel()
	for p, ok := range map[string]bool{
		"https://app.example.com": true, "app.example.com": true, "*.example.com": true, "https://*.example.com:8443": true,
		"*": false, "**": false, "*://*": false, "https://app.example.com/x": false, "app.example.com/x": false, "://x": false, "[": false,
	} {
		if err := CheckOriginPattern(p); (err == nil) != ok {
			t.Errorf("CheckOriginPattern(%q) = %v, want ok %v", p, err, ok)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	srv := New(Config{Dashboard: http.NotFoundHandler(), LoopbackHostsOnly: true})
	for _, path := range []string{"/", "/healthz", "/playground"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "http://127.0.0.1:8080"+path, nil)
		srv.Handler().ServeHTTP(rec, req)
		for k, v := range map[string]string{"X-Frame-Options": "DENY", "Content-Security-Policy": contentSecurityPolicy, "X-Content-Type-Options": "nosniff"} {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
	}
	// Scripts, workers, styles and fonts from the node only.
	for _, want := range []string{"default-src 'self'", "script-src 'self';", "worker-src 'self';", "style-src 'self' 'unsafe-inline';",
		"font-src 'self' data:;", "connect-src 'self';", "object-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(contentSecurityPolicy+";", want) {
			t.Errorf("the CSP lacks %q: %s", want, contentSecurityPolicy)
		}
	}
	if strings.Contains(contentSecurityPolicy, "http") || strings.Contains(contentSecurityPolicy, "*") || strings.Contains(contentSecurityPolicy, "unsafe-eval") {
		t.Errorf("the CSP allows other sites or eval: %s", contentSecurityPolicy)
	}
	// A foreign Host is refused, with the headers too.
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "http://evil.example/healthz", nil))
	if rec.Code != http.StatusMisdirectedRequest || rec.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("foreign host: %d %v", rec.Code, rec.Header())
	}
}

// A browser sends no Origin with a no-cors GET (<img src>) but marks it
// Sec-Fetch-Site: cross-site; such a request never reaches the API.
func TestSecFetchSite(t *testing.T) {
	t.Parallel()
	reached := 0
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ })
	srv := New(Config{GraphQL: api, AllowedOrigins: []string{"https://app.example.com"}})
	for _, c := range []struct {
		method, site, origin string
		want                 int
	}{
		{"GET", "cross-site", "", http.StatusForbidden},
		{"POST", "cross-site", "", http.StatusForbidden},
		{"GET", "same-site", "", http.StatusForbidden},
		{"GET", "Cross-Site", "", http.StatusForbidden},
		{"GET", "same-origin", "", http.StatusOK},
		{"GET", "none", "", http.StatusOK}, // typed in the address bar
		{"GET", "", "", http.StatusOK},     // curl, programs
		{"POST", "same-origin", "http://127.0.0.1:8080", http.StatusOK},
		{"POST", "cross-site", "https://app.example.com", http.StatusOK}, // an allowed origin, with CORS
		{"GET", "cross-site", "https://evil.example", http.StatusForbidden},
		{"GET", "same-site", "https://other.example.com", http.StatusForbidden},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(c.method, "http://127.0.0.1:8080/graphql?query=%7B__typename%7D", nil)
		if c.site != "" {
			req.Header.Set("Sec-Fetch-Site", c.site)
		}
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		before := reached
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s Sec-Fetch-Site %q Origin %q: status %d, want %d", c.method, c.site, c.origin, rec.Code, c.want)
		}
		if c.want == http.StatusForbidden && (reached != before || !strings.Contains(rec.Body.String(), "FORBIDDEN")) {
			t.Errorf("%s Sec-Fetch-Site %q: reached the API, or no FORBIDDEN error: %s", c.method, c.site, rec.Body)
		}
	}
}

// TestOwnOriginScheme: a node serving HTTPS (or behind a proxy that says
// so) is https://host; a page on http://host (another server: port 80 is
// not 443) is a foreign origin.
func TestOwnOriginScheme(t *testing.T) {
	t.Parallel()
	h := withOrigins(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), nil)
	for _, c := range []struct {
		origin, proto string
		tls           bool
		want          int
	}{
		{"https://node.example", "", true, 200},
		{"http://node.example", "", true, 403},
		{"http://node.example", "", false, 200},
		{"https://node.example", "", false, 403},
		{"https://node.example", "https", false, 200},
		{"http://node.example", "https", false, 403},
	} {
		req := httptest.NewRequest("POST", "http://node.example/graphql", nil)
		req.Header.Set("Origin", c.origin)
		if c.proto != "" {
			req.Header.Set("X-Forwarded-Proto", c.proto)
		}
		if c.tls {
			req.TLS = &tls.ConnectionState{}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("origin %s, TLS %v, X-Forwarded-Proto %q: %d, want %d", c.origin, c.tls, c.proto, rec.Code, c.want)
		}
	}
}
