package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCompareVersions(t *testing.T) {
	ordered := []string{
		"", // invalid sorts first
		"0.0.0-20200101000000-abcdef",
		"0.0.0",
		"0.3.5",
		"0.3.7",
		"0.10.0",
		"1.0.0-alpha",
		"1.0.0-alpha.1",
		"1.0.0-alpha.beta",
		"1.0.0-beta.2",
		"1.0.0-beta.11",
		"1.0.0-rc.1",
		"1.0.0",
		"v1.21.0-0",
		"1.21.0",
		"go1.21.5",
		"1.27.3",
		"10.0.0",
	}
	for i := range ordered {
		for j := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := compareVersions(ordered[i], ordered[j]); got != want {
				t.Errorf("compare(%q, %q) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	if compareVersions("1.2.3+build", "v1.2.3") != 0 || compareVersions("nonsense", "") != 0 {
		t.Error("build metadata or invalid versions compare wrongly")
	}
}

func TestNonSupersededFix(t *testing.T) {
	rng := func(events ...[2]string) []osvRange {
		r := osvRange{Type: "SEMVER"}
		for _, e := range events {
			r.Events = append(r.Events, struct {
				Introduced string `json:"introduced,omitempty"`
				Fixed      string `json:"fixed,omitempty"`
			}{e[0], e[1]})
		}
		return []osvRange{r}
	}
	for _, c := range []struct {
		ranges []osvRange
		want   string
	}{
		{rng([2]string{"0", ""}, [2]string{"", "1.2.0"}), "1.2.0"},
		{rng([2]string{"0", ""}, [2]string{"", "1.20.1"}, [2]string{"1.21.0-0", ""}, [2]string{"", "1.21.5"}), "1.21.5"},
		{rng([2]string{"0", ""}, [2]string{"", "1.0.0"}, [2]string{"2.0.0", ""}), ""}, // reintroduced, unfixed
		{rng([2]string{"1.5.0", ""}), ""},
		{nil, ""},
	} {
		if got := nonSupersededFix(c.ranges); got != c.want {
			t.Errorf("nonSupersededFix(%+v) = %q, want %q", c.ranges, got, c.want)
		}
	}
}

const osvA = `{
  "schema_version": "1.3.1", "id": "GO-2000-0001", "modified": "0001-01-01T00:00:00Z",
  "published": "2000-01-01T00:00:00Z", "aliases": ["CVE-2000-1"], "summary": "A",
  "affected": [
    {"package": {"name": "example.com/a", "ecosystem": "Go"},
     "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.0"}]}],
     "ecosystem_specific": {"imports": [{"path": "example.com/a/p", "symbols": ["F"]}]}},
    {"package": {"name": "stdlib", "ecosystem": "Go"},
     "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.20.1"}, {"introduced": "1.21.0-0"}, {"fixed": "1.21.5"}]}]}
  ]
}`

const osvB = `{"id": "GO-2000-0002", "modified": "2001-02-03T04:05:06Z", "summary": "B",
  "affected": [{"package": {"name": "example.com/a", "ecosystem": "Go"},
    "ranges": [{"type": "SEMVER", "events": [{"introduced": "1.5.0"}]}]}]}`

func TestBuildDB(t *testing.T) {
	src := t.TempDir()
	for name, body := range map[string]string{"GO-2000-0001.json": osvA, "GO-2000-0002.json": osvB, "README.md": "not an entry"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "cache", "db")
	dataTime := time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC)
	st, err := buildDB(src, out, "test", dataTime)
	if err != nil {
		t.Fatal(err)
	}
	if st.Entries != 2 || st.Modules != 2 || !st.DataTime.Equal(dataTime) {
		t.Errorf("stamp = %+v", st)
	}
	read := func(name string, v any) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	var db dbMeta
	read("index/db.json", &db)
	if !db.Modified.Equal(dataTime) {
		t.Errorf("db.json modified = %v, want the data time %v", db.Modified, dataTime)
	}

	var mods []moduleMeta
	read("index/modules.json", &mods)
	zero := time.Time{}
	b := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	want := []moduleMeta{
		{Path: "example.com/a", Vulns: []moduleVuln{{ID: "GO-2000-0001", Modified: zero, Fixed: "1.2.0"}, {ID: "GO-2000-0002", Modified: b}}},
		{Path: "stdlib", Vulns: []moduleVuln{{ID: "GO-2000-0001", Modified: zero, Fixed: "1.21.5"}}},
	}
	for i := range mods { // compare times by value
		for j := range mods[i].Vulns {
			mods[i].Vulns[j].Modified = mods[i].Vulns[j].Modified.UTC()
		}
	}
	if !reflect.DeepEqual(mods, want) {
		t.Errorf("modules.json =\n%+v\nwant\n%+v", mods, want)
	}

	var vulns []vulnMeta
	read("index/vulns.json", &vulns)
	if len(vulns) != 2 || vulns[0].ID != "GO-2000-0001" || !reflect.DeepEqual(vulns[0].Aliases, []string{"CVE-2000-1"}) {
		t.Errorf("vulns.json = %+v", vulns)
	}

	// The entries are kept whole, fields the indexes do not need included.
	var entry map[string]any
	read("ID/GO-2000-0001.json", &entry)
	if entry["summary"] != "A" || entry["schema_version"] != "1.3.1" {
		t.Errorf("ID/GO-2000-0001.json = %v", entry)
	}
	if got, ok := readStamp(out); !ok || got.Source != "test" {
		t.Errorf("stamp = %+v, %v", got, ok)
	}

	// A rebuild replaces the directory; a misnamed entry is refused and
	// leaves the old database in place.
	if err := os.WriteFile(filepath.Join(src, "GO-2000-0003.json"), []byte(osvB), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := buildDB(src, out, "test2", dataTime); err == nil || !strings.Contains(err.Error(), "<ID>.json") {
		t.Errorf("misnamed entry: err = %v", err)
	}
	if got, _ := readStamp(out); got.Source != "test" {
		t.Errorf("after a failed build the stamp is %+v", got)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".vulndb-build-*"))
	if len(leftovers) > 0 {
		t.Errorf("build directories left behind: %v", leftovers)
	}
	if _, err := buildDB(t.TempDir(), out, "x", dataTime); err == nil {
		t.Error("an empty OSV directory was accepted")
	}
}

// A govulncheck -format json stream, trimmed from real output.
const scan = `{"config": {"protocol_version": "v1.0.0", "scanner_name": "govulncheck", "scanner_version": "v1.9.0",
  "db": "file:///x/db", "db_last_modified": "2026-11-05T23:49:57Z", "go_version": "go1.26.8", "scan_level": "symbol"}}
{"progress": {"message": "Scanning your code and 1 packages across 1 dependent module for known vulnerabilities..."}}
{"osv": {"id": "GO-2021-0113", "summary": "Out-of-bounds read in golang.org/x/text/language"}}
{"osv": {"id": "GO-2026-6599", "summary": "Reset context tracking in html/template"}}
{"osv": {"id": "GO-2026-6860", "summary": "Quadratic complexity in golang.org/x/net/html"}}
{"osv": {"id": "GO-2026-9999", "summary": "Fixed long ago"}}
{"finding": {"osv": "GO-2021-0113", "fixed_version": "v0.3.7", "trace": [{"module": "golang.org/x/text", "version": "v0.3.5"}]}}
{"finding": {"osv": "GO-2021-0113", "fixed_version": "v0.3.7", "trace": [{"module": "golang.org/x/text", "version": "v0.3.5", "package": "golang.org/x/text/language"}]}}
{"finding": {"osv": "GO-2021-0113", "fixed_version": "v0.3.7", "trace": [
  {"module": "golang.org/x/text", "version": "v0.3.5", "package": "golang.org/x/text/language", "function": "Parse", "position": {"filename": "language/parse.go", "line": 33, "column": 6}},
  {"module": "example.com/m", "package": "example.com/m/server", "function": "serve", "position": {"filename": "server/s.go", "line": 9, "column": 2}},
  {"module": "example.com/m", "package": "example.com/m/server", "function": "Start", "receiver": "*Server", "position": {"filename": "server/s.go", "line": 3, "column": 4}}]}}
{"finding": {"osv": "GO-2026-6599", "fixed_version": "v1.26.9", "trace": [
  {"module": "stdlib", "version": "v1.26.8", "package": "html/template", "function": "Execute", "receiver": "*Template"},
  {"module": "example.com/m", "package": "example.com/m/web", "function": "page", "position": {"filename": "web/page.go", "line": 5, "column": 1}}]}}
{"finding": {"osv": "GO-2026-6860", "fixed_version": "v0.62.0", "trace": [{"module": "golang.org/x/net", "version": "v0.61.0"}]}}
`

func TestReport(t *testing.T) {
	var out strings.Builder
	failed, err := report(strings.NewReader(scan), &out, false, "")
	if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if !failed {
		t.Errorf("a called vulnerability in a module did not fail:\n%s", text)
	}
	for _, want := range []string{
		"govulncheck v1.9.0, go1.26.8, scan level symbol, database file:///x/db (last modified 2026-11-05)",
		"GO-2021-0113  Out-of-bounds read",
		"golang.org/x/text@v0.3.5, fixed in v0.3.7",
		"server/s.go:3:4: server.Server.Start calls server.serve, which calls language.Parse",
		"standard library go1.26.8, fixed in go1.26.9",
		"web/page.go:5:1: web.page calls template.Template.Execute",
		"GO-2026-6860",
		"1 called in modules, 1 called in the standard library, 1 not called",
		"vulncheck: FAIL",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "GO-2026-9999") {
		t.Errorf("an entry without findings is reported:\n%s", text)
	}

	// Standard library findings alone: a warning, or a failure with -stdlib fail.
	stdOnly := strings.ReplaceAll(scan, `"function": "Parse"`, `"function": ""`)
	out.Reset()
	if failed, err := report(strings.NewReader(stdOnly), &out, false, ""); err != nil || failed {
		t.Errorf("stdlib only, warn: failed=%v err=%v\n%s", failed, err, out.String())
	} else if !strings.Contains(out.String(), "WARNING") {
		t.Errorf("no warning:\n%s", out.String())
	}
	if failed, _ := report(strings.NewReader(stdOnly), &out, true, ""); !failed {
		t.Error("stdlib only, fail: did not fail")
	}

	// Self-test mode.
	if failed, err := report(strings.NewReader(scan), &out, false, "GO-2021-0113,GO-2026-6599"); err != nil || failed {
		t.Errorf("expect found IDs: failed=%v err=%v", failed, err)
	}
	for _, missing := range []string{"GO-2026-6860", "GO-2026-9999", "GO-1999-0000"} {
		if failed, _ := report(strings.NewReader(scan), &out, false, missing); !failed {
			t.Errorf("expect %s (not called): passed", missing)
		}
	}

	if _, err := report(strings.NewReader(""), &out, false, ""); err == nil {
		t.Error("empty output accepted")
	}
	if _, err := report(strings.NewReader(`{"config": {}} {oops`), &out, false, ""); err == nil {
		t.Error("broken output accepted")
	}
}
