package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A report in npm 7+'s format (auditReportVersion 2), trimmed.
const reportHigh = `{
  "auditReportVersion": 2,
  "vulnerabilities": {
    "minimist": {
      "name": "minimist", "severity": "critical", "isDirect": false,
      "via": [{"source": 1097678, "name": "minimist", "dependency": "minimist",
               "title": "Prototype Pollution in minimist",
               "url": "https://github.com/advisories/GHSA-xvch-5gv4-984h",
               "severity": "critical", "range": "<0.2.4"}],
      "effects": ["mkdirp"], "range": "<=0.2.3", "nodes": ["node_modules/minimist"],
      "fixAvailable": true
    },
    "mkdirp": {
      "name": "mkdirp", "severity": "critical", "isDirect": true,
      "via": ["minimist"], "effects": [], "range": "0.4.1 - 0.5.1",
      "nodes": ["node_modules/mkdirp"], "fixAvailable": false
    },
    "tiny": {
      "name": "tiny", "severity": "low", "via": [], "range": "*", "fixAvailable": false
    }
  },
  "metadata": {
    "vulnerabilities": {"info": 0, "low": 1, "moderate": 0, "high": 0, "critical": 2, "total": 3},
    "dependencies": {"prod": 3, "dev": 0, "optional": 0, "peer": 0, "peerOptional": 0, "total": 3}
  }
}`

const reportLow = `{"auditReportVersion": 2,
  "vulnerabilities": {"tiny": {"name": "tiny", "severity": "moderate", "via": [], "range": "*", "fixAvailable": false}},
  "metadata": {"vulnerabilities": {"info": 0, "low": 0, "moderate": 1, "high": 0, "critical": 0, "total": 1}}}`

// What npm 11 printed here: the registry refuses the bulk advisory endpoint.
const report405 = `{
  "message": "405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk",
  "method": "POST",
  "uri": "https://registry.npmjs.org/-/npm/v1/security/advisories/bulk",
  "headers": {"allow": ["GET,HEAD"]},
  "statusCode": 405,
  "body": "",
  "error": {"summary": "", "detail": ""}
}`

const reportRefused = `{
  "message": "request to http://127.0.0.1:9/-/npm/v1/security/advisories/bulk failed, reason: connect ECONNREFUSED 127.0.0.1:9",
  "error": {"summary": "", "detail": ""}
}`

const reportNoLock = `{"error": {"code": "ENOLOCK", "summary": "This command requires an existing lockfile.", "detail": "Try creating one first"}}`

func TestJudge(t *testing.T) {
	res, err := judge([]byte(reportHigh), "high")
	if err != nil {
		t.Fatal(err)
	}
	if !res.failed || res.unavailable != "" {
		t.Fatalf("critical findings: failed=%v unavailable=%q", res.failed, res.unavailable)
	}
	var names []string
	for _, f := range res.findings {
		names = append(names, f.name)
	}
	if !reflect.DeepEqual(names, []string{"minimist", "mkdirp"}) {
		t.Errorf("findings at high or above = %v", names)
	}
	if f := res.findings[0]; !f.fix || len(f.titles) != 1 || !strings.Contains(f.titles[0], "Prototype Pollution") {
		t.Errorf("minimist = %+v", f)
	}
	if res.findings[1].fix {
		t.Error("mkdirp: fixAvailable false read as true")
	}
	var out strings.Builder
	res.print(&out, "high")
	if !strings.Contains(out.String(), "FAIL") || !strings.Contains(out.String(), "2 critical") {
		t.Errorf("print:\n%s", out.String())
	}

	if res, err := judge([]byte(reportLow), "high"); err != nil || res.failed || res.unavailable != "" {
		t.Errorf("moderate only, level high: %+v, %v", res, err)
	}
	if res, err := judge([]byte(reportLow), "moderate"); err != nil || !res.failed {
		t.Errorf("moderate, level moderate: %+v, %v", res, err)
	}

	for name, in := range map[string]string{"405": report405, "refused": reportRefused} {
		res, err := judge([]byte(in), "high")
		if err != nil || res.failed || res.unavailable == "" {
			t.Errorf("%s: want unavailable, got %+v, %v", name, res, err)
		}
	}

	for name, in := range map[string]string{"ENOLOCK": reportNoLock, "empty": "", "not JSON": "npm ERR! x", "empty object": "{}"} {
		if _, err := judge([]byte(in), "high"); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func TestRuntimePackages(t *testing.T) {
	lock := `{"name": "x", "lockfileVersion": 3, "packages": {
	  "": {"name": "x", "dependencies": {"react": "19.3.1"}},
	  "node_modules/react": {"version": "19.3.1"},
	  "node_modules/@urql/core": {"version": "6.0.3"},
	  "node_modules/@urql/core/node_modules/wonka": {"version": "6.3.5"},
	  "node_modules/vite": {"version": "8.3.8", "dev": true}}}`
	f := filepath.Join(t.TempDir(), "package-lock.json")
	if err := os.WriteFile(f, []byte(lock), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := runtimePackages(f, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"@urql/core@6.0.3", "react@19.3.1", "wonka@6.3.5"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("runtime = %v, want %v", got, want)
	}
	if got, _ := runtimePackages(f, true); len(got) != 4 {
		t.Errorf("with dev = %v", got)
	}
}
