package dashboard

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func TestPlaygroundHandler(t *testing.T) {
	files := fstest.MapFS{
		"index.html":      {Data: []byte("<!doctype html><title>Archivist</title>")},
		"playground.html": {Data: []byte("<!doctype html><title>Archivist GraphQL</title>")},
	}
	rec := httptest.NewRecorder()
	newPlaygroundHandler(files).ServeHTTP(rec, httptest.NewRequest("GET", "/playground", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "Archivist GraphQL") || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("GET /playground: %d %q %v", rec.Code, rec.Body, rec.Header())
	}
	// The dashboard's handler does not serve the playground's page: with
	// --no-playground, nothing does.
	rec = httptest.NewRecorder()
	newHandler(files).ServeHTTP(rec, httptest.NewRequest("GET", "/playground.html", nil))
	if rec.Code != 404 {
		t.Fatalf("the dashboard's handler serves /playground.html: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	newPlaygroundHandler(fstest.MapFS{}).ServeHTTP(rec, httptest.NewRequest("GET", "/playground", nil))
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), "make dashboard") {
		t.Fatalf("a build without the playground: %d %q", rec.Code, rec.Body)
	}
}

// The embedded playground is GraphiQL built from src/playground, with its
// script under /assets/.
func TestEmbeddedPlayground(t *testing.T) {
	rec := httptest.NewRecorder()
	Playground().ServeHTTP(rec, httptest.NewRequest("GET", "/playground", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, "<title>Archivist GraphQL</title>") || !strings.Contains(body, `id="archivist-auth"`) {
		t.Fatalf("GET /playground: %d %s", rec.Code, body)
	}
	m := regexp.MustCompile(`src="(/assets/playground-[^"]+\.js)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the playground loads no script of its own from /assets/: %s", body)
	}
	rec = httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", m[1], nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d", m[1], rec.Code)
	}
	if m := externalRef.FindString(body); m != "" {
		t.Errorf("playground.html loads %q from another site", m)
	}
}

// What would make a browser fetch from an absolute URL: in HTML a src or
// href (of a script, style, icon), in CSS url() and @import, in scripts an
// import, a worker, importScripts, fetch, or a src/href set on an element.
// Links a person may click (<a href>, as JSX props) and URLs in messages
// or JSON Schema ids are not fetched.
var (
	cssExternal = regexp.MustCompile(`(?i)(url\(\s*["']?|@import\s+["']?)(https?:)?//`)
	jsExternal  = regexp.MustCompile("(?i)(\\bimport\\s*\\(|\\bfrom|\\bimport|importScripts\\(|new\\s+(Shared)?Worker\\(|\\bfetch\\(|\\.src\\s*=|\\.href\\s*=)\\s*[\"'`](https?:)?//")
)

// Nothing that / or /playground loads comes from outside the node: every
// file of the embedded build is checked.
func TestDistLoadsNothingFromElsewhere(t *testing.T) {
	// The patterns themselves: what they must catch, and must let be.
	for _, c := range []struct {
		re   *regexp.Regexp
		text string
		want bool
	}{
		{externalRef, `<script src="https://cdn.example/x.js">`, true},
		{cssExternal, `src:url(https://fonts.example/a.woff2)`, true},
		{cssExternal, `@import "//fonts.example/css"`, true},
		{cssExternal, `src:url(/assets/codicon.ttf)`, false},
		{jsExternal, `import("https://esm.example/m.js")`, true},
		{jsExternal, "new Worker(`https://cdn.example/w.js`)", true},
		{jsExternal, `e.src="https://cdn.example/x.js"`, true},
		{jsExternal, "href:`https://github.com/graphql/graphiql`", false},
		{jsExternal, `"see https://react.dev/errors/"`, false},
	} {
		if got := c.re.MatchString(c.text); got != c.want {
			t.Errorf("%v matches %q: %v, want %v", c.re, c.text, got, c.want)
		}
	}
	files := distFS()
	n := 0
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		var re *regexp.Regexp
		switch path.Ext(name) {
		case ".html":
			re = externalRef
		case ".css":
			re = cssExternal
		case ".js", ".mjs":
			re = jsExternal
		default:
			return nil
		}
		n++
		if loc := re.FindIndex(data); loc != nil {
			from, to := max(loc[0]-60, 0), min(loc[1]+60, len(data))
			t.Errorf("%s loads from another site: …%s…", name, data[from:to])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Fatalf("checked %d files: the build is missing", n)
	}
}

var (
	htmlAsset   = regexp.MustCompile(`(?:src|href)="/(assets/[^"]+\.js)"`)
	staticChunk = regexp.MustCompile(`(?:\bfrom|\bimport)\s*["'](\./[^"']+\.js)["']`)
)

// The dashboard's page loads none of the playground's code: GraphiQL and
// Monaco (megabytes) are in chunks only the playground loads. Every chunk
// the dashboard loads before it runs (its entry and what that imports
// statically) is checked.
func TestDashboardLeavesOutThePlayground(t *testing.T) {
	files := distFS()
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	var queue []string
	for _, m := range htmlAsset.FindAllStringSubmatch(string(index), -1) {
		queue = append(queue, m[1])
	}
	if len(queue) == 0 {
		t.Fatalf("index.html loads no script: %s", index)
	}
	seen := map[string]bool{}
	size := 0
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		data, err := fs.ReadFile(files, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		size += len(data)
		for _, word := range []string{"graphiql", "monaco", "MonacoEnvironment"} {
			if strings.Contains(strings.ToLower(string(data)), strings.ToLower(word)) {
				t.Errorf("the dashboard loads %s, which holds %q", name, word)
			}
		}
		// The TypeScript client is tree-shaken: the dashboard holds its
		// transport, not its documents and calls, which it does not use.
		for _, doc := range []string{"subscription TaskState", "query TaskTypeStates", "mutation SubmitTasks("} {
			if strings.Contains(string(data), doc) {
				t.Errorf("the dashboard loads %s, which holds the TypeScript client's %q it never sends", name, doc)
			}
		}
		for _, m := range staticChunk.FindAllStringSubmatch(string(data), -1) {
			queue = append(queue, path.Join(path.Dir(name), m[1]))
		}
	}
	t.Logf("the dashboard loads %d scripts, %d kB", len(seen), size/1000)
}
