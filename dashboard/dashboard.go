// Package dashboard serves the web dashboard that every node shows at /. The
// built assets live in dist/ and are embedded in the binary, so that go build
// alone gives a working dashboard. The source is beside this file (src/);
// `make dashboard` rebuilds dist/.
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
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees dist exists
	}
	return newHandler(sub)
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
