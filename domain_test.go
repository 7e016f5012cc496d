package archivist

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	t.Parallel()
	base, max := 100*time.Millisecond, time.Second
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 30: time.Second} {
		for range 200 {
			d := Backoff(n, base, max)
			if d < want/2 || d > want {
				t.Fatalf("Backoff(%d) = %s, want within [%s, %s]", n, d, want/2, want)
			}
		}
	}
}

func TestNewTaskValidation(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	reg.RegisterFunc("echo", func(context.Context, *Job) (json.RawMessage, error) { return nil, nil })
	cfg := DefaultConfig()
	neg := -1
	cases := []struct {
		name string
		spec TaskSpec
		want string
	}{
		{"no type", TaskSpec{}, "required"},
		{"unknown type", TaskSpec{Type: "x"}, "known types: echo"},
		{"bad JSON", TaskSpec{Type: "echo", Input: json.RawMessage(`{`)}, "not valid JSON"},
		{"too big", TaskSpec{Type: "echo", Input: json.RawMessage(`"` + strings.Repeat("a", MaxInputBytes) + `"`)}, "limit"},
		{"bad priority", TaskSpec{Type: "echo", Priority: "URGENT"}, "priority"},
		{"negative timeout", TaskSpec{Type: "echo", Timeout: -time.Second}, "negative"},
		{"huge timeout", TaskSpec{Type: "echo", Timeout: 48 * time.Hour}, "limit"},
		{"negative retries", TaskSpec{Type: "echo", MaxRetries: &neg}, "maxRetries"},
		{"bad metadata", TaskSpec{Type: "echo", Metadata: json.RawMessage(`[`)}, "metadata"},
		{"zero backoff", TaskSpec{Type: "echo", RetryBackoff: new(time.Duration(0))}, "retryBackoff must be above 0"},
		{"negative max backoff", TaskSpec{Type: "echo", MaxBackoff: new(-time.Second)}, "maxBackoff must be above 0"},
		{"huge backoff", TaskSpec{Type: "echo", RetryBackoff: new(25 * time.Hour)}, "retryBackoff 25h0m0s is over the limit"},
		{"huge max backoff", TaskSpec{Type: "echo", MaxBackoff: new(25 * time.Hour)}, "maxBackoff 25h0m0s is over the limit"},
		{"max under base", TaskSpec{Type: "echo", RetryBackoff: new(time.Minute), MaxBackoff: new(time.Second)},
			"maxBackoff 1s must not be under retryBackoff 1m0s"},
	}
	for _, c := range cases {
		_, err := NewTask(c.spec, reg, cfg)
		if err == nil || ErrorCodeOf(err) != CodeBadUserInput || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want BAD_USER_INPUT mentioning %q", c.name, err, c.want)
		}
	}
	task, err := NewTask(TaskSpec{Type: " echo "}, reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if task.Type != "echo" || task.Priority != PriorityNormal || task.Timeout != cfg.DefaultTimeout ||
		task.MaxRetries != cfg.DefaultMaxRetries || string(task.Input) != "null" {
		t.Errorf("defaults not applied: %+v", task)
	}
	if task.RetryBackoff != 0 || task.MaxBackoff != 0 {
		t.Errorf("a task submitted without a backoff has one of its own: %s, %s", task.RetryBackoff, task.MaxBackoff)
	}
	task, err = NewTask(TaskSpec{Type: "echo", RetryBackoff: new(time.Minute), MaxBackoff: new(time.Minute)}, reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if task.RetryBackoff != time.Minute || task.MaxBackoff != time.Minute {
		t.Errorf("own backoff not kept: %s, %s", task.RetryBackoff, task.MaxBackoff)
	}
}

func TestRetryPolicyForTask(t *testing.T) {
	t.Parallel()
	cluster := RetryPolicy{Base: time.Second, Max: time.Minute}
	for _, c := range []struct {
		name          string
		base, max     time.Duration
		wantB, wantMx time.Duration
	}{
		{"none: the cluster's", 0, 0, time.Second, time.Minute},
		{"both", 5 * time.Second, 10 * time.Second, 5 * time.Second, 10 * time.Second},
		{"base within the cluster's max", 5 * time.Second, 0, 5 * time.Second, time.Minute},
		{"base above the cluster's max raises it", time.Hour, 0, time.Hour, time.Hour},
		{"max above the cluster's base", 0, time.Hour, time.Second, time.Hour},
		{"max below the cluster's base lowers it", 0, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond},
	} {
		got := cluster.ForTask(c.base, c.max)
		if got.Base != c.wantB || got.Max != c.wantMx || got.Disabled {
			t.Errorf("%s: ForTask(%s, %s) = %+v, want base %s, max %s", c.name, c.base, c.max, got, c.wantB, c.wantMx)
		}
	}
	if got := (RetryPolicy{Disabled: true}).ForTask(time.Second, 0); !got.Disabled {
		t.Errorf("a task's backoff enabled retries the cluster disabled")
	}
}

func TestNodeAcceptsAndStatus(t *testing.T) {
	t.Parallel()
	now := time.Now()
	n := &Node{ID: "a", TaskTypes: []string{"text.summarize", "echo"}, Capabilities: []string{"text.*"},
		Interval: time.Second, LastHeartbeat: now}
	if !n.Accepts("text.summarize") || n.Accepts("echo") || n.Accepts("text.index") {
		t.Error("Accepts must need a handler and a matching capability")
	}
	if (&Node{}).Accepts("anything") != true {
		t.Error("a node listing nothing accepts any type")
	}
	if got := n.StatusAt(now, 3); got != NodeOnline {
		t.Errorf("status %s", got)
	}
	n.Busy = true
	if got := n.StatusAt(now, 3); got != NodeBusy {
		t.Errorf("status %s", got)
	}
	n.Draining = true
	if got := n.StatusAt(now, 3); got != NodeDraining {
		t.Errorf("status %s", got)
	}
	if got := n.StatusAt(now.Add(3500*time.Millisecond), 3); got != NodeOffline {
		t.Errorf("status %s after 3.5 missed intervals", got)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"workers":   func(c *Config) { c.Workers = 0 },
		"heartbeat": func(c *Config) { c.HeartbeatInterval = time.Millisecond },
		"strategy":  func(c *Config) { c.Strategy = "RANDOM" },
		"cpu":       func(c *Config) { c.Thresholds.CPUPercent = 101 },
		"backoff":   func(c *Config) { c.MaxBackoff = c.RetryBackoff / 2 },
		"retention": func(c *Config) { c.Retention = time.Second },
	} {
		c := DefaultConfig()
		mut(&c)
		if err := c.Validate(); ErrorCodeOf(err) != CodeBadUserInput {
			t.Errorf("%s: %v, want BAD_USER_INPUT", name, err)
		}
	}
}

func TestErrorsAndPermanent(t *testing.T) {
	t.Parallel()
	err := errors.Join(errors.New("wrapped"), Errorf(CodeNotFound, "task %q not found", "x"))
	if ErrorCodeOf(err) != CodeNotFound || !IsCode(err, CodeNotFound) {
		t.Error("code lost through wrapping")
	}
	if ErrorCodeOf(errors.New("disk on fire")) != CodeInternal || ErrorMessageOf(errors.New("disk on fire")) != "internal error" {
		t.Error("internal errors must not leak")
	}
	p := Permanent(errors.New("bad input"))
	if !IsPermanent(p) || IsPermanent(errors.New("x")) || Permanent(nil) != nil {
		t.Error("Permanent")
	}
}

type regainedStore struct {
	Store
	at time.Time
}

func (s regainedStore) RegainedAt() time.Time { return s.at }

func TestInHeartbeatGrace(t *testing.T) {
	iv := time.Second
	if InHeartbeatGrace(nil, 3, iv) {
		t.Error("a store that is never out of reach has a grace")
	}
	if InHeartbeatGrace(regainedStore{}, 3, iv) {
		t.Error("grace without an outage")
	}
	if !InHeartbeatGrace(regainedStore{at: time.Now().Add(-2 * time.Second)}, 3, iv) {
		t.Error("no grace 2s after the store came back (3 missed heartbeats of 1s)")
	}
	if InHeartbeatGrace(regainedStore{at: time.Now().Add(-time.Minute)}, 3, iv) {
		t.Error("grace a minute after the store came back")
	}
}
