package server

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/store"
)

// The Grafana dashboard and the Prometheus rules in deploy/ use only series
// that /metrics serves, and the rules pass promtool.

var seriesRe = regexp.MustCompile(`\b(archivist_[a-z0-9_]+|process_[a-z0-9_]+|go_[a-z0-9_]+)\b`)

func servedSeries(t *testing.T) map[string]bool {
	t.Helper()
	st := store.NewMemory(store.Options{})
	t.Cleanup(func() { st.Close() })
	m := NewMetrics(StateSource{Store: st, Health: func() (archivist.Health, bool) { return archivist.Health{}, false },
		Active: func() int { return 0 }, Leader: func() bool { return true }})
	// Vectors show only once they have a child.
	m.AttemptFinished(context.Background(), &archivist.Task{Type: "echo"}, "completed", time.Millisecond)
	m.WorkerPanicked(&archivist.Task{Type: "echo"})
	m.GraphQLRequest("query", false)
	m.ScheduleTick("fired")
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, f := range families {
		name := f.GetName()
		out[name] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				out[name+s] = true
			}
		}
	}
	return out
}

func checkExprs(t *testing.T, where string, exprs []string, served map[string]bool) {
	t.Helper()
	if len(exprs) == 0 {
		t.Fatalf("%s: no expressions found", where)
	}
	for _, e := range exprs {
		for _, name := range seriesRe.FindAllString(e, -1) {
			if !served[name] {
				t.Errorf("%s: %q uses %s, which /metrics does not serve", where, e, name)
			}
		}
	}
}

func TestPrometheusRules(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("rule %+v lacks a name or an expression", r)
			}
			exprs = append(exprs, r.Expr)
		}
	}
	checkExprs(t, "alerts.yml", exprs, servedSeries(t))

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not found: CI must install it (see .ci/run)")
		}
		t.Skip("promtool not found: install Debian's prometheus package to check the rules' syntax")
	}
	out, err := exec.Command(promtool, "check", "rules", "../deploy/prometheus/alerts.yml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../deploy/grafana/archivist.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		UID    string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard lacks a title, uid or panels")
	}
	var exprs []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	checkExprs(t, "archivist.json", exprs, servedSeries(t))
}
