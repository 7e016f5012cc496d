package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// The parts of govulncheck's JSON protocol (golang.org/x/vuln v1,
// internal/govulncheck) that the report reads.
type message struct {
	Config *struct {
		ProtocolVersion string     `json:"protocol_version"`
		ScannerVersion  string     `json:"scanner_version"`
		DB              string     `json:"db"`
		DBLastModified  *time.Time `json:"db_last_modified"`
		GoVersion       string     `json:"go_version"`
		ScanLevel       string     `json:"scan_level"`
	} `json:"config"`
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *finding `json:"finding"`
}

type finding struct {
	OSV          string   `json:"osv"`
	FixedVersion string   `json:"fixed_version"`
	Trace        []*frame `json:"trace"`
}

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
	Position *struct {
		Filename string `json:"filename"`
		Line     int    `json:"line"`
		Column   int    `json:"column"`
	} `json:"position"`
}

func (f *frame) symbol() string {
	pkg := f.Package
	if i := strings.LastIndexByte(pkg, '/'); i >= 0 {
		pkg = pkg[i+1:]
	}
	if f.Receiver != "" {
		return pkg + "." + strings.TrimPrefix(f.Receiver, "*") + "." + f.Function
	}
	return pkg + "." + f.Function
}

// vuln gathers the findings of one OSV entry.
type vuln struct {
	id, summary string
	module      string // "stdlib" for the standard library
	version     string
	fixed       string
	called      *finding // a symbol-level finding, if any
	imported    bool     // a package-level finding
}

func reportMain(args []string, w io.Writer) (failed bool, err error) {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	stdlib := fs.String("stdlib", "warn", "what a called vulnerability in the standard library does: warn or fail")
	expect := fs.String("expect", "", "self-test: comma-separated IDs that must be found called; nothing else is judged")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	if fs.NArg() != 1 || (*stdlib != "warn" && *stdlib != "fail") {
		return false, errors.New("report needs one file of govulncheck -format json output, and -stdlib warn or fail")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return false, err
	}
	defer f.Close()
	return report(f, w, *stdlib == "fail", *expect)
}

func report(r io.Reader, w io.Writer, failOnStdlib bool, expect string) (failed bool, err error) {
	dec := json.NewDecoder(r)
	vulns := map[string]*vuln{}
	get := func(id string) *vuln {
		v := vulns[id]
		if v == nil {
			v = &vuln{id: id}
			vulns[id] = v
		}
		return v
	}
	sawConfig := false
	for {
		var m message
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return false, fmt.Errorf("reading govulncheck output: %v", err)
		}
		switch {
		case m.Config != nil:
			sawConfig = true
			c := m.Config
			when := "unknown"
			if c.DBLastModified != nil {
				when = c.DBLastModified.UTC().Format("2006-01-02")
			}
			fmt.Fprintf(w, "govulncheck %s, %s, scan level %s, database %s (last modified %s)\n",
				c.ScannerVersion, c.GoVersion, c.ScanLevel, c.DB, when)
		case m.OSV != nil:
			get(m.OSV.ID).summary = m.OSV.Summary
		case m.Finding != nil && len(m.Finding.Trace) > 0:
			fd := m.Finding
			v := get(fd.OSV)
			top := fd.Trace[0]
			v.module, v.version, v.fixed = top.Module, top.Version, fd.FixedVersion
			if top.Function != "" {
				if v.called == nil {
					v.called = fd
				}
			} else if top.Package != "" {
				v.imported = true
			}
		}
	}
	if !sawConfig {
		return false, errors.New("no govulncheck output (no config message): did it run?")
	}

	ids := make([]string, 0, len(vulns))
	for id := range vulns {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var calledStd, calledMod, notCalled []*vuln
	for _, id := range ids {
		v := vulns[id]
		switch {
		case v.module == "":
			// An OSV entry with no finding: the module is used at a fixed version.
		case v.called == nil:
			notCalled = append(notCalled, v)
		case v.module == "stdlib" || v.module == "toolchain":
			calledStd = append(calledStd, v)
		default:
			calledMod = append(calledMod, v)
		}
	}

	if expect != "" {
		missing := []string{}
		for _, id := range strings.Split(expect, ",") {
			if v := vulns[strings.TrimSpace(id)]; v == nil || v.called == nil {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			fmt.Fprintf(w, "SELF-TEST FAILED: govulncheck did not report %s as called: the database is not being read right\n", strings.Join(missing, ", "))
			return true, nil
		}
		fmt.Fprintf(w, "self-test ok: %s found as called\n", expect)
		return false, nil
	}

	section := func(title string, vs []*vuln) {
		if len(vs) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s (%d):\n", title, len(vs))
		for _, v := range vs {
			printVuln(w, v)
		}
	}
	section("CALLED vulnerabilities in required modules: upgrade them (go get MODULE@FIXED)", calledMod)
	stdTitle := "CALLED vulnerabilities in the Go standard library (the toolchain in use): not failing, since -stdlib=warn; fixed by a newer Go"
	if failOnStdlib {
		stdTitle = "CALLED vulnerabilities in the Go standard library: fixed by a newer Go"
	}
	section(stdTitle, calledStd)
	section("In required modules or the standard library but not called by our code (informational)", notCalled)

	fmt.Fprintf(w, "\nvulncheck: %d called in modules, %d called in the standard library, %d not called\n",
		len(calledMod), len(calledStd), len(notCalled))
	failed = len(calledMod) > 0 || (failOnStdlib && len(calledStd) > 0)
	switch {
	case failed:
		fmt.Fprintln(w, "vulncheck: FAIL")
	case len(calledStd) > 0:
		fmt.Fprintln(w, "vulncheck: ok for our modules; WARNING: the standard library findings above stay until the Go toolchain is upgraded")
	default:
		fmt.Fprintln(w, "vulncheck: ok, no called vulnerabilities")
	}
	return failed, nil
}

func printVuln(w io.Writer, v *vuln) {
	fixed := "no fix yet"
	if v.fixed != "" {
		fixed = "fixed in " + v.fixed
	}
	where := v.module + "@" + v.version
	if v.module == "stdlib" || v.module == "toolchain" {
		where = "standard library " + goVersion(v.version)
		if v.fixed != "" {
			fixed = "fixed in " + goVersion(v.fixed)
		}
	}
	fmt.Fprintf(w, "  %s  %s\n      %s, %s\n", v.id, v.summary, where, fixed)
	if v.called == nil {
		return
	}
	// Frames run from the vulnerable symbol to our entry point; say it as
	// govulncheck's text output does.
	tr := v.called.Trace
	entry := tr[len(tr)-1]
	pos := ""
	if entry.Position != nil && entry.Position.Line > 0 {
		pos = fmt.Sprintf("%s:%d:%d: ", entry.Position.Filename, entry.Position.Line, entry.Position.Column)
	}
	switch len(tr) {
	case 1:
		fmt.Fprintf(w, "      e.g. %s%s\n", pos, entry.symbol())
	case 2:
		fmt.Fprintf(w, "      e.g. %s%s calls %s\n", pos, entry.symbol(), tr[0].symbol())
	case 3:
		fmt.Fprintf(w, "      e.g. %s%s calls %s, which calls %s\n", pos, entry.symbol(), tr[1].symbol(), tr[0].symbol())
	default:
		fmt.Fprintf(w, "      e.g. %s%s calls %s, which eventually calls %s\n", pos, entry.symbol(), tr[len(tr)-2].symbol(), tr[0].symbol())
	}
}

// goVersion writes a standard library version as Go does: v1.26.8 is go1.26.8.
func goVersion(v string) string {
	if strings.HasPrefix(v, "v") {
		return "go" + v[1:]
	}
	return v
}
