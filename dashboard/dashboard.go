// Package dashboard serves the web dashboard that every node shows at /,
// and the GraphQL playground (GraphiQL) at /playground. The built assets
// live in dist/ and are embedded in the binary, so that go build alone gives
// a working dashboard and playground that load nothing from elsewhere. The
// source is beside this file (src/); `make dashboard` rebuilds dist/.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// all: keeps files whose names start with . or _ (a bundler may emit some).
//
//go:embed all:dist
var dist embed.FS

// Handler serves the embedded dashboard. A path without a file extension
// that names no file (/tasks/ID, /nodes) gets index.html, so that the
// dashboard's client-side routes can be opened, reloaded and bookmarked; a
// missing file with an extension is a 404. Hashed assets under /assets/ are
// cached for good, index.html never.
func Handler() http.Handler {
	return newHandler(distFS())
}

// playgroundPage is the playground's page in dist/. The dashboard's handler
// does not serve it: it is served at /playground only, by Playground, so
// that a node run with --no-playground does not serve it at all. Its
// scripts and styles are under /assets/, which the dashboard's handler
// serves.
const playgroundPage = "playground.html"

// Playground serves the embedded GraphQL playground page (GraphiQL, built
// from src/playground), never cached, so that a new binary's page is taken.
func Playground() http.Handler {
	return newPlaygroundHandler(distFS())
}

func newPlaygroundHandler(files fs.FS) http.Handler {
	page, _ := fs.ReadFile(files, playgroundPage)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if page == nil {
			http.Error(w, "playground not built: run make dashboard", http.StatusNotFound)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(page)
		}
	})
}

func distFS() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees dist exists
	}
	return sub
}

func newHandler(files fs.FS) http.Handler {
	index, _ := fs.ReadFile(files, "index.html")
	static := http.FileServerFS(files)
	serveIndex := func(w http.ResponseWriter, r *http.Request) {
		if index == nil {
			http.Error(w, "dashboard not built: run make dashboard", http.StatusNotFound)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(index)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "" || name == "index.html" {
			serveIndex(w, r)
			return
		}
		if name == playgroundPage {
			http.NotFound(w, r)
			return
		}
		if st, err := fs.Stat(files, name); err == nil && !st.IsDir() {
			if strings.HasPrefix(name, "assets/") {
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			}
			w.Header().Set("X-Content-Type-Options", "nosniff")
			static.ServeHTTP(w, r)
			return
		}
		if path.Ext(name) == "" {
			serveIndex(w, r)
			return
		}
		http.NotFound(w, r)
	})
}
