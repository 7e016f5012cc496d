// Command npmaudit runs `npm audit` on the runtime packages of an npm
// project (the dashboard, the TypeScript client) and fails on findings at
// or above a severity (high by default). When the audit
// service itself cannot be used (the npm registry that this workplace
// reaches answers the audit endpoints with 405; elsewhere it may be down or
// unreachable) it does not fail: it says so loudly and lists the runtime
// packages that went unaudited, so that someone can check them by hand.
// `make audit-npm` runs it.
//
//	npmaudit [-dir dashboard] [-level high] [-dev]
package main

import (
	"bytes"
	"context"
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

// networkCodes are the error codes with which npm reports that it could not
// reach a host.
var networkCodes = map[string]bool{
	"ENOTFOUND": true, "EAI_AGAIN": true, "ECONNREFUSED": true, "ECONNRESET": true,
	"ETIMEDOUT": true, "ENETUNREACH": true, "EHOSTUNREACH": true, "ESOCKETTIMEDOUT": true,
}

var severities = []string{"info", "low", "moderate", "high", "critical"}

func rank(s string) int {
	for i, x := range severities {
		if x == s {
			return i
		}
	}
	return -1
}

func main() {
	dir := flag.String("dir", "dashboard", "the npm project (with package-lock.json)")
	level := flag.String("level", "high", "fail on findings of this severity or above: "+strings.Join(severities, ", "))
	dev := flag.Bool("dev", false, "audit the devDependencies too (by default only what ships: --omit=dev)")
	timeout := flag.Duration("timeout", 3*time.Minute, "give up on the audit service after this long")
	flag.Parse()
	if rank(*level) < 0 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	args := []string{"audit", "--json", "--audit-level=" + *level}
	if !*dev {
		args = append(args, "--omit=dev")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", args...)
	cmd.Dir = *dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	fmt.Printf("npmaudit: npm %s (in %s)\n", strings.Join(args, " "), *dir)
	runErr := cmd.Run()
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		fmt.Fprintf(os.Stderr, "npmaudit: cannot run npm: %v\n", runErr)
		os.Exit(1)
	}
	if ctx.Err() != nil {
		stdout.Reset()
		fmt.Fprintf(&stdout, `{"message":"no answer from the audit service in %s"}`, *timeout)
	}

	res, err := judge(stdout.Bytes(), *level)
	if err != nil {
		fmt.Fprintf(os.Stderr, "npmaudit: %v\nnpm's output:\n%s\n%s", err, stdout.String(), stderr.String())
		os.Exit(1)
	}
	if res.unavailable != "" {
		pkgs, lerr := runtimePackages(filepath.Join(*dir, "package-lock.json"), *dev)
		printUnavailable(os.Stdout, *dir, res.unavailable, pkgs, lerr)
		return
	}
	res.print(os.Stdout, *level)
	if res.failed {
		os.Exit(1)
	}
}

// result is what an npm audit run says.
type result struct {
	unavailable string         // why the audit service gave no report; "" when it did
	counts      map[string]int // findings by severity
	findings    []finding      // at or above the level
	failed      bool
}

type finding struct {
	name, severity, rng string
	titles              []string
	fix                 bool
}

// judge reads `npm audit --json` output (npm 7 and later: auditReportVersion
// 2). A report with metadata is judged. An error about the request to the
// audit endpoint (an HTTP status such as 405, a network error) means the
// service was unavailable; any other error (ENOLOCK: no package-lock.json)
// or output is an error of its own, which fails.
func judge(out []byte, level string) (result, error) {
	var r struct {
		AuditReportVersion int `json:"auditReportVersion"`
		Vulnerabilities    map[string]struct {
			Name         string            `json:"name"`
			Severity     string            `json:"severity"`
			Range        string            `json:"range"`
			Via          []json.RawMessage `json:"via"`
			FixAvailable json.RawMessage   `json:"fixAvailable"`
		} `json:"vulnerabilities"`
		Metadata *struct {
			Vulnerabilities map[string]int `json:"vulnerabilities"`
		} `json:"metadata"`
		Message string          `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	out = bytes.TrimSpace(out)
	if len(out) == 0 {
		return result{}, errors.New("npm audit printed nothing")
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return result{}, fmt.Errorf("npm audit's output is not JSON: %v", err)
	}
	if r.Metadata == nil || r.Metadata.Vulnerabilities == nil {
		var e struct{ Code, Summary, Detail string }
		_ = json.Unmarshal(r.Error, &e)
		switch {
		case r.Message != "":
			// The request to the audit endpoint failed: an HTTP status
			// (statusCode is set) or a network error ("request to ...
			// failed, reason: ...").
			return result{unavailable: r.Message}, nil
		case networkCodes[e.Code]:
			return result{unavailable: strings.TrimSpace(e.Code + " " + e.Summary)}, nil
		case e.Code != "" || e.Summary != "":
			// A local problem, such as ENOLOCK (no package-lock.json).
			return result{}, fmt.Errorf("npm audit failed: %s %s %s", e.Code, e.Summary, e.Detail)
		}
		return result{}, errors.New("npm audit gave neither a report nor an error")
	}
	res := result{counts: r.Metadata.Vulnerabilities}
	min := rank(level)
	for name, v := range r.Vulnerabilities {
		if rank(v.Severity) < min {
			continue
		}
		f := finding{name: name, severity: v.Severity, rng: v.Range, fix: len(v.FixAvailable) > 0 && string(v.FixAvailable) != "false"}
		for _, via := range v.Via {
			var adv struct{ Title, URL string }
			if json.Unmarshal(via, &adv) == nil && adv.Title != "" {
				f.titles = append(f.titles, adv.Title+" "+adv.URL)
			}
		}
		res.findings = append(res.findings, f)
	}
	sort.Slice(res.findings, func(i, j int) bool { return res.findings[i].name < res.findings[j].name })
	for _, s := range severities[min:] {
		if res.counts[s] > 0 {
			res.failed = true
		}
	}
	return res, nil
}

func (r result) print(w io.Writer, level string) {
	var parts []string
	for _, s := range severities {
		parts = append(parts, fmt.Sprintf("%d %s", r.counts[s], s))
	}
	fmt.Fprintf(w, "npmaudit: %s\n", strings.Join(parts, ", "))
	for _, f := range r.findings {
		fix := "no fix available"
		if f.fix {
			fix = "fix available (npm audit fix)"
		}
		fmt.Fprintf(w, "  %s %s (%s), %s\n", f.severity, f.name, f.rng, fix)
		for _, t := range f.titles {
			fmt.Fprintf(w, "      %s\n", t)
		}
	}
	if r.failed {
		fmt.Fprintf(w, "npmaudit: FAIL: findings at %s or above\n", level)
	} else {
		fmt.Fprintf(w, "npmaudit: ok, nothing at %s or above\n", level)
	}
}

func printUnavailable(w io.Writer, dir, why string, pkgs []string, lerr error) {
	bar := strings.Repeat("!", 78)
	fmt.Fprintf(w, "%s\n", bar)
	fmt.Fprintf(w, "!! npm audit NOT DONE: the audit service gave no report (%s).\n", why)
	fmt.Fprintf(w, "!! Not failing, since no finding was seen; but the packages of %s were NOT checked\n", dir)
	fmt.Fprintln(w, "!! for advisories. Run `make audit-npm` where the npm audit service answers.")
	if lerr != nil {
		fmt.Fprintf(w, "!! (cannot list the packages: %v)\n", lerr)
	} else {
		fmt.Fprintf(w, "!! Unaudited packages (%d):\n", len(pkgs))
		for _, p := range pkgs {
			fmt.Fprintf(w, "!!   %s\n", p)
		}
	}
	fmt.Fprintf(w, "%s\n", bar)
}

// runtimePackages lists name@version of the packages in a v2 or v3
// package-lock.json that an install without devDependencies has.
func runtimePackages(lockfile string, dev bool) ([]string, error) {
	b, err := os.ReadFile(lockfile)
	if err != nil {
		return nil, err
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
			Dev     bool   `json:"dev"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return nil, fmt.Errorf("%s: %v", lockfile, err)
	}
	var out []string
	for path, p := range lock.Packages {
		i := strings.LastIndex(path, "node_modules/")
		if i < 0 || (p.Dev && !dev) {
			continue
		}
		out = append(out, path[i+len("node_modules/"):]+"@"+p.Version)
	}
	sort.Strings(out)
	return out, nil
}
