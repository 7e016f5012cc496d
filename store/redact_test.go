package store

import (
	"slices"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"redis://u:s3cret@h:1/0": "redis://u:xxxxx@h:1/0",
		"redis://h:1/0":          "redis://h:1/0",
		"redis://u@h:1":          "redis://u@h:1",
		"redis+sentinel://:s3cret@s1,s2/m?sentinel_password=s3cret&sentinel_username=x": "redis+sentinel://:xxxxx@s1,s2/m?sentinel_password=xxxxx&sentinel_username=x",
		"redis+sentinel://s1/m?sentinel_password=s3cret":                                "redis+sentinel://s1/m?sentinel_password=xxxxx",
		"redis://:pa/ss?s3cret@h:1/0":                                                   "redis://:xxxxx@h:1/0",
		"rediss://h?ca=/x.pem":                                                          "rediss://h?ca=/x.pem",
	} {
		if got := redactURL(in); got != want || strings.Contains(got, "s3cret") {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
	// The errors of ParseRedisURL go through it.
	for _, bad := range []string{"redis+sentinel://s1/m/x/y?sentinel_password=s3cret", "redis://u:s3/cret@h:1"} {
		if _, err := ParseRedisURL(bad); err == nil || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "cret") {
			t.Errorf("ParseRedisURL(%q) error %v", bad, err)
		}
	}
}

func TestIsRedisURL(t *testing.T) {
	t.Parallel()
	for spec, want := range map[string]bool{
		"redis://h:1/0": true, "rediss://h": true, "redis+sentinel://s/m": true, "rediss+cluster://a,b": true,
		"bolt": false, "bolt:/x.db": false, "memory": false, "": false, "http://h": false,
		"REDIS://h": false, // --store takes the schemes in lower case
	} {
		if got := IsRedisURL(spec); got != want {
			t.Errorf("IsRedisURL(%q) = %v, want %v", spec, got, want)
		}
	}
	if got := RedactURL("bolt:/var/lib/a.db"); got != "bolt:/var/lib/a.db" {
		t.Errorf("RedactURL of a bolt store: %q", got)
	}
}

func TestRedisURLHosts(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string][]string{
		"redis://127.0.0.1:6379/0":                    {"127.0.0.1"},
		"redis+cluster://a:7000,localhost:7001":       {"a", "localhost"},
		"redis+sentinel://u:pw@[::1]:26379,s2/master": {"::1", "s2"},
		"rediss://h?ca=/x.pem":                        {"h"},
		"memory":                                      nil,
	} {
		if got := RedisURLHosts(raw); !slices.Equal(got, want) {
			t.Errorf("RedisURLHosts(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestRedisEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"redis://user:p%40ss@169.254.1.1:6379/2?ca=/etc/ca.pem": "redis://169.254.1.1:6379/2",
		"rediss://:secret@h:6380":                               "rediss://h:6380",
		"redis+sentinel://h1:26379,h2:26379/mymaster/0":         "redis+sentinel://h1:26379,h2:26379/mymaster/0",
		"REDIS+CLUSTER://a:p@h1:7000,h2:7001":                   "redis+cluster://h1:7000,h2:7001",
		"bolt":                                                  "",
		"memory":                                                "",
		"bolt:/var/lib/x.db":                                    "",
	} {
		if got := RedisEndpoint(in); got != want {
			t.Errorf("RedisEndpoint(%q) = %q, want %q", in, got, want)
		}
	}
}
