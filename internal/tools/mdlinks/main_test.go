package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProjectLinks checks the project's own Markdown, as make lint does.
func TestProjectLinks(t *testing.T) {
	problems, err := check("../../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("README.md", "# Archivist\n\nSee [config](docs/config.md#the-two-switches-enabled-and-faulttolerance),\n"+
		"[gone](docs/gone.md), [bad anchor](docs/config.md#nope), [web](https://example.com/x.md),\n"+
		"[here](#archivist) and `[code](not/a/link.md)`.\n\n```\n[also code](missing.md)\n```\n")
	write("docs/config.md", "# Config\n\n### The two switches: `enabled` and `faultTolerance`\n\n[back](../README.md#archivist)\n")
	problems, err := check(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(problems, "\n")
	for _, want := range []string{"README.md:4: docs/gone.md: no such file", "README.md:4: docs/config.md#nope: no heading"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if len(problems) != 2 {
		t.Errorf("want 2 problems, got:\n%s", got)
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		" Redis failover (Sentinel and Cluster)":            "redis-failover-sentinel-and-cluster",
		" Discovery on a LAN (mDNS)":                        "discovery-on-a-lan-mdns",
		" The two switches: `enabled` and `faultTolerance`": "the-two-switches-enabled-and-faulttolerance",
		" Targets not met, by how much and why":             "targets-not-met-by-how-much-and-why",
		" Schlüssel → Rollen":                               "schlüssel--rollen",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}
