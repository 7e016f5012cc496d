package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The commands run as the archivist binary runs them in cmd/archivist's
// tests; these check what needs no node.

func TestRunKnowsItsCommands(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	e := Env{Getenv: func(string) string { return "" }, Stdout: &out, Stderr: &errOut,
		ConfigFile: func() string { return "# http: 127.0.0.1:8080\n" }}
	for _, args := range [][]string{nil, {"serve"}, {"version"}, {"bogus"}} {
		if _, ok := Run(args, e); ok {
			t.Errorf("Run(%q) claims a command that is not a client command", args)
		}
	}
	if code, ok := Run([]string{"completion", "fish"}, e); !ok || code != 2 {
		t.Errorf("completion fish: code %d, ok %v; want 2, true", code, ok)
	}
	out.Reset()
	if code, ok := Run([]string{"config", "init"}, e); !ok || code != 0 || out.String() != "# http: 127.0.0.1:8080\n" {
		t.Errorf("config init: code %d, ok %v, wrote %q; want ConfigFile's text", code, ok, out.String())
	}
	path := filepath.Join(t.TempDir(), "archivist.yaml")
	if code, _ := Run([]string{"config", "init", "--file", path}, e); code != 0 {
		t.Fatalf("config init --file: code %d: %s", code, errOut.String())
	}
	if code, _ := Run([]string{"config", "init", "--file", path}, e); code != 1 || !strings.Contains(errOut.String(), "--force overwrites it") {
		t.Errorf("config init over an existing file: code %d: %s", code, errOut.String())
	}
	if data, err := os.ReadFile(path); err != nil || string(data) != "# http: 127.0.0.1:8080\n" {
		t.Errorf("file %q %v", data, err)
	}
}

func TestInterleave(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("o", "table", "")
	fs.Bool("wait", false, "")
	got := interleave(fs, []string{"get", "ID", "-o", "json", "--wait", "--", "-x"})
	if want := []string{"-o", "json", "--wait", "get", "ID", "-x"}; !cmp.Equal(got, want) {
		t.Errorf("interleave = %q, want %q", got, want)
	}
}

func TestConfigSetValues(t *testing.T) {
	t.Parallel()
	in := map[string]any{}
	for _, kv := range []string{"workers=8", "strategy=least-busy", "enabled=false", "peers=a, b", "thresholds.cpuPercent=80"} {
		k, v, _ := strings.Cut(kv, "=")
		setPath(in, k, parseValue(k, v))
	}
	want := map[string]any{"workers": 8.0, "strategy": "LEAST_BUSY", "enabled": false, "peers": []string{"a", "b"},
		"thresholds": map[string]any{"cpuPercent": 80.0}}
	if d := cmp.Diff(want, in); d != "" {
		t.Errorf("config set input (-want +got):\n%s", d)
	}
}

func TestEnumValue(t *testing.T) {
	t.Parallel()
	if v, err := EnumValue("strategy", " Least-Busy ", "ROUND_ROBIN", "LEAST_BUSY"); err != nil || v != "LEAST_BUSY" {
		t.Errorf("EnumValue = %q, %v", v, err)
	}
	_, err := EnumValue("role", "king", "MASTER", "WORKER")
	if err == nil || err.Error() != `--role "king": use one of master, worker` {
		t.Errorf("error %v", err)
	}
	if got := SplitList(" a,,b , "); !cmp.Equal(got, []string{"a", "b"}) {
		t.Errorf("SplitList = %q", got)
	}
}
