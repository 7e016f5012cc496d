package app

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/store"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestOptionsPrecedence(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "archivist.yaml")
	err := os.WriteFile(file, []byte("workers: 7\nstrategy: least-busy\nheartbeat-interval: 2s\nhttp: 127.0.0.1:9999\ncapabilities: [text.*, dice.simulate]\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	o, err := parseServe([]string{"--workers", "3", "--config", file}, env(map[string]string{
		"ARCHIVIST_WORKERS":  "5",
		"ARCHIVIST_STRATEGY": "capability-based",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Workers != 3 {
		t.Errorf("workers %d: the flag must win over env and file", o.Workers)
	}
	if o.Strategy != "capability-based" {
		t.Errorf("strategy %q: the environment must win over the file", o.Strategy)
	}
	if o.HeartbeatInterval != 2*time.Second || o.HTTP != "127.0.0.1:9999" {
		t.Errorf("file values not applied: %s %s", o.HeartbeatInterval, o.HTTP)
	}
	if got := strings.Join(o.capabilities(), ","); got != "text.*,dice.simulate" {
		t.Errorf("capabilities %q", got)
	}
	cfg, err := o.settings(archivist.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Strategy != archivist.StrategyCapabilityBased || cfg.Workers != 3 || cfg.HeartbeatInterval != 2*time.Second {
		t.Errorf("settings %+v", cfg)
	}
}

func TestOptionsOverrideOnlyWhatIsGiven(t *testing.T) {
	t.Parallel()
	o, err := parseServe([]string{"--strategy", "least-busy"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	stored := archivist.DefaultConfig()
	stored.Version = 4
	stored.Workers = 12
	got, err := o.settings(stored)
	if err != nil {
		t.Fatal(err)
	}
	if got.Workers != 12 || got.Strategy != archivist.StrategyLeastBusy {
		t.Errorf("got workers %d strategy %s: only the given option may change a stored config", got.Workers, got.Strategy)
	}
}

func TestOptionsErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.yaml")
	_ = os.WriteFile(unknown, []byte("wrokers: 3\n"), 0o600)
	badValue := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(badValue, []byte("workers: many\n"), 0o600)
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--role", "king"}, nil, "--role"},
		{[]string{"--strategy", "random"}, nil, "--strategy"},
		{[]string{"--http", "8080"}, nil, "--http"},
		{[]string{"--workers", "0"}, nil, "--workers"},
		{[]string{"--heartbeat-interval", "1ns"}, nil, "heartbeat interval"},
		{[]string{"--cpu-threshold", "140"}, nil, "cpu threshold"},
		{nil, map[string]string{"ARCHIVIST_WORKERS": "lots"}, "ARCHIVIST_WORKERS"},
		{[]string{"--config", unknown}, nil, `unknown key "wrokers"`},
		{[]string{"--config", badValue}, nil, `key "workers"`},
		{[]string{"--config", filepath.Join(dir, "missing.yaml")}, nil, "config file"},
		{[]string{"extra"}, nil, "unexpected argument"},
	} {
		_, err := parseServe(c.args, env(c.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: error %v, want one mentioning %q", c.args, c.env, err, c.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	o, err := parseServe(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.HTTP != "127.0.0.1:8080" || o.Store != "bolt" || o.Role != "hybrid" {
		t.Errorf("defaults %s %s %s", o.HTTP, o.Store, o.Role)
	}
	if r, _ := o.role(); r != archivist.RoleHybrid {
		t.Errorf("role %s", r)
	}
}

func TestRedactStore(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"redis://app:s3cret@redis.internal:6379/0": "redis://app:xxxxx@redis.internal:6379/0",
		"redis://127.0.0.1:6379/0":                 "redis://127.0.0.1:6379/0",
		"bolt:/var/lib/a.db":                       "bolt:/var/lib/a.db",
	} {
		if got := store.RedactURL(in); got != want || strings.Contains(got, "s3cret") {
			t.Errorf("store.RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
