package dashboard

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func TestHandlerRoutes(t *testing.T) {
	files := fstest.MapFS{
		"index.html":         {Data: []byte("<!doctype html><title>Archivist</title>")},
		"assets/index-ab.js": {Data: []byte("console.log(1)")},
		"favicon.svg":        {Data: []byte("<svg/>")},
	}
	h := newHandler(files)
	cases := []struct {
		method, path string
		code         int
		body, cache  string
	}{
		{"GET", "/", 200, "<title>Archivist</title>", "no-cache"},
		{"GET", "/index.html", 200, "<title>Archivist</title>", "no-cache"},
		{"GET", "/tasks", 200, "<title>Archivist</title>", "no-cache"},
		{"GET", "/tasks/06h1vtv3xnr9fa5e3na5tzr", 200, "<title>Archivist</title>", "no-cache"},
		{"GET", "/assets", 200, "<title>Archivist</title>", "no-cache"},
		{"GET", "/assets/index-ab.js", 200, "console.log(1)", "immutable"},
		{"GET", "/favicon.svg", 200, "<svg/>", ""},
		{"GET", "/assets/missing.js", 404, "", ""},
		{"GET", "/missing.png", 404, "", ""},
		{"HEAD", "/nodes", 200, "", "no-cache"},
		{"POST", "/", 405, "", ""},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
			body, _ := io.ReadAll(rec.Result().Body)
			if rec.Code != c.code {
				t.Fatalf("code %d, want %d (%s)", rec.Code, c.code, body)
			}
			if !strings.Contains(string(body), c.body) {
				t.Errorf("body %q does not contain %q", body, c.body)
			}
			if got := rec.Header().Get("Cache-Control"); !strings.Contains(got, c.cache) {
				t.Errorf("Cache-Control %q, want %q", got, c.cache)
			}
		})
	}
}

var externalRef = regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`)

// The embedded build is the real dashboard, not the placeholder.
func TestEmbeddedBuild(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/nodes", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, "<title>Archivist</title>") || !strings.Contains(body, `id="root"`) {
		t.Fatalf("GET /nodes: %d %s", rec.Code, body)
	}
	i := strings.Index(body, `src="/assets/`)
	if i < 0 {
		t.Fatalf("index.html loads no script from /assets/: %s", body)
	}
	src := body[i+len(`src="`):]
	src = src[:strings.IndexByte(src, '"')]
	rec = httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", src, nil))
	if rec.Code != http.StatusOK || rec.Body.Len() < 1000 {
		t.Fatalf("GET %s: %d, %d bytes", src, rec.Code, rec.Body.Len())
	}
	// Everything is bundled: no script, style, font or icon from elsewhere.
	if m := externalRef.FindString(body); m != "" {
		t.Errorf("index.html loads %q from another site", m)
	}
}
