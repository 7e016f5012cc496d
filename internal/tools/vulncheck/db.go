package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// stampFile, written last into a database directory, names the source it
// was built from; a directory with a matching stamp is reused as it is.
const stampFile = "archivist-source.json"

type stamp struct {
	Source   string    `json:"source"`
	DataTime time.Time `json:"data_time"`
	Entries  int       `json:"entries"`
	Modules  int       `json:"modules"`
}

func dbMain(args []string) error {
	fs := flag.NewFlagSet("db", flag.ContinueOnError)
	module := fs.String("vulndb", "", "the vulndb module to build from, as path@version (downloaded with go mod download)")
	osvDir := fs.String("osv", "", "build from this directory of OSV files instead of a module")
	out := fs.String("out", "", "directory to write the database to")
	when := fs.String("time", "", "with -osv: the time of the data (RFC 3339); default: newest entry")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || (*module == "") == (*osvDir == "") || fs.NArg() > 0 {
		return errors.New("db needs -out and exactly one of -vulndb and -osv")
	}
	var (
		source   string
		dataTime time.Time
		err      error
	)
	if *module != "" {
		source = *module
		if st, ok := readStamp(*out); ok && st.Source == source {
			printSummary(os.Stdout, st, *out, "already built")
			return nil
		}
		var dir string
		dir, dataTime, err = downloadModule(*module)
		if err != nil {
			return err
		}
		*osvDir = filepath.Join(dir, "data", "osv")
	} else {
		source = *osvDir
		if *when != "" {
			if dataTime, err = time.Parse(time.RFC3339, *when); err != nil {
				return fmt.Errorf("-time: %v", err)
			}
		}
	}
	st, err := buildDB(*osvDir, *out, source, dataTime)
	if err != nil {
		return err
	}
	printSummary(os.Stdout, st, *out, "built")
	return nil
}

func printSummary(w io.Writer, st stamp, dir, verb string) {
	age := int(time.Since(st.DataTime).Hours() / 24)
	fmt.Fprintf(w, "vulndb: %s: data as of %s (%d days old), %d entries, %d modules; %s in %s\n",
		st.Source, st.DataTime.UTC().Format("2006-01-02 15:04 MST"), age, st.Entries, st.Modules, verb, dir)
	if age > 60 {
		fmt.Fprintf(w, "vulndb: NOTE: the vulnerability data is %d days old: move VULNDB_VERSION in the Makefile to a newer golang.org/x/vulndb pseudo-version\n", age)
	}
}

func readStamp(dir string) (stamp, bool) {
	var st stamp
	b, err := os.ReadFile(filepath.Join(dir, stampFile))
	if err != nil || json.Unmarshal(b, &st) != nil {
		return st, false
	}
	return st, true
}

// downloadModule fetches path@version through the module proxy (GOPROXY)
// and returns its directory in the module cache and its commit time.
func downloadModule(mod string) (dir string, t time.Time, err error) {
	// Outside any module, so that our go.mod and go.sum are left alone.
	tmp, err := os.MkdirTemp("", "vulncheck-download")
	if err != nil {
		return "", t, err
	}
	defer os.RemoveAll(tmp)
	var out []byte
	for try := 1; ; try++ {
		cmd := exec.Command("go", "mod", "download", "-json", mod)
		cmd.Dir = tmp
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
		cmd.Stderr = os.Stderr
		out, err = cmd.Output()
		if err == nil || try == 3 {
			break
		}
		fmt.Fprintf(os.Stderr, "vulncheck: go mod download %s: %v; retrying\n", mod, err)
		time.Sleep(time.Duration(try*5) * time.Second)
	}
	var res struct {
		Dir, Info, Error string
	}
	if jerr := json.Unmarshal(out, &res); jerr != nil && err == nil {
		err = jerr
	}
	if res.Error != "" {
		return "", t, fmt.Errorf("go mod download %s: %s", mod, res.Error)
	}
	if err != nil {
		return "", t, fmt.Errorf("go mod download %s: %v", mod, err)
	}
	var info struct{ Time time.Time }
	if b, err := os.ReadFile(res.Info); err == nil {
		_ = json.Unmarshal(b, &info)
	}
	return res.Dir, info.Time, nil
}

// osvEntry holds the fields of an OSV entry that the indexes need.
type osvEntry struct {
	ID        string     `json:"id"`
	Modified  time.Time  `json:"modified"`
	Aliases   []string   `json:"aliases,omitempty"`
	Withdrawn *time.Time `json:"withdrawn,omitempty"`
	Affected  []struct {
		Package struct {
			Name      string `json:"name"`
			Ecosystem string `json:"ecosystem"`
		} `json:"package"`
		Ranges []osvRange `json:"ranges"`
	} `json:"affected"`
}

type osvRange struct {
	Type   string `json:"type"`
	Events []struct {
		Introduced string `json:"introduced,omitempty"`
		Fixed      string `json:"fixed,omitempty"`
	} `json:"events"`
}

// The v1 database layout (https://go.dev/security/vuln/database#api), as
// golang.org/x/vuln/internal/client reads it.
type dbMeta struct {
	Modified time.Time `json:"modified"`
}

type moduleMeta struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Fixed    string    `json:"fixed,omitempty"`
}

type vulnMeta struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
}

// buildDB reads every <ID>.json in osvDir and writes the database to out,
// replacing what was there only once the whole database is written.
// dataTime, the time of the data (the vulndb commit), is the database's
// modified time unless an entry is newer: the entries in x/vulndb's
// data/osv carry no modified times of their own.
func buildDB(osvDir, out, source string, dataTime time.Time) (stamp, error) {
	var st stamp
	files, err := filepath.Glob(filepath.Join(osvDir, "*.json"))
	if err != nil {
		return st, err
	}
	if len(files) == 0 {
		return st, fmt.Errorf("no OSV entries (*.json) in %s", osvDir)
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(out)), 0o755); err != nil {
		return st, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(out)), ".vulndb-build-")
	if err != nil {
		return st, err
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{"index", "ID"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return st, err
		}
	}

	db := dbMeta{Modified: dataTime}
	modules := map[string]*moduleMeta{}
	var vulns []vulnMeta
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return st, err
		}
		var e osvEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return st, fmt.Errorf("%s: %v", f, err)
		}
		if e.ID == "" || strings.ContainsAny(e.ID, `/\`) || filepath.Base(f) != e.ID+".json" {
			return st, fmt.Errorf("%s: OSV entries must be named <ID>.json (id %q)", f, e.ID)
		}
		if e.Modified.After(db.Modified) {
			db.Modified = e.Modified
		}
		vulns = append(vulns, vulnMeta{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases})
		for _, a := range e.Affected {
			path := a.Package.Name
			if path == "" {
				return st, fmt.Errorf("%s: an affected package has no name", f)
			}
			m := modules[path]
			if m == nil {
				m = &moduleMeta{Path: path, Vulns: []moduleVuln{}}
				modules[path] = m
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified, Fixed: nonSupersededFix(a.Ranges)})
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return st, fmt.Errorf("%s: %v", f, err)
		}
		if err := os.WriteFile(filepath.Join(tmp, "ID", e.ID+".json"), buf.Bytes(), 0o644); err != nil {
			return st, err
		}
	}

	mods := make([]*moduleMeta, 0, len(modules))
	for _, m := range modules {
		sort.Slice(m.Vulns, func(i, j int) bool { return m.Vulns[i].ID < m.Vulns[j].ID })
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	sort.Slice(vulns, func(i, j int) bool { return vulns[i].ID < vulns[j].ID })

	st = stamp{Source: source, DataTime: db.Modified, Entries: len(vulns), Modules: len(mods)}
	for name, v := range map[string]any{"index/db.json": db, "index/modules.json": mods, "index/vulns.json": vulns} {
		if err := writeJSON(filepath.Join(tmp, name), v); err != nil {
			return st, err
		}
	}
	if err := writeJSON(filepath.Join(tmp, stampFile), st); err != nil {
		return st, err
	}
	if err := os.RemoveAll(out); err != nil {
		return st, err
	}
	return st, os.Rename(tmp, out)
}

func writeJSON(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(name, b, 0o644)
}

// nonSupersededFix returns the latest fixed version in the SEMVER ranges,
// or "" when a later introduction leaves the newest versions affected. It
// matches golang.org/x/vuln/internal/semver.NonSupersededFix: govulncheck
// uses the value to skip entries whose fix the scanned version has.
func nonSupersededFix(ranges []osvRange) string {
	var latest string
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		for _, e := range r.Events {
			if e.Fixed != "" && versionLess(latest, e.Fixed) {
				latest = e.Fixed
			}
		}
		for _, e := range r.Events {
			if e.Introduced != "" && e.Introduced != "0" && versionLess(latest, e.Introduced) {
				latest = ""
				break
			}
		}
	}
	return latest
}
