package app

import (
	"io"
	"strings"
	"testing"

	"github.com/rpg-archivist/archivist/store"
)

// TestSecretsMasked: what the node logs or prints of its options masks the
// Redis passwords and webhook tokens.
func TestSecretsMasked(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"redis+sentinel://u:s3cret@s1:26379,s2/m?sentinel_password=s3cret": "redis+sentinel://u:xxxxx@s1:26379,s2/m?sentinel_password=xxxxx",
		"redis+cluster://:s3cret@a:7000,b:7001":                            "redis+cluster://:xxxxx@a:7000,b:7001",
		"redis://:s3cret%zz@h:1":                                           "redis://:xxxxx@h:1",
	} {
		if got := store.RedactURL(in); got != want || strings.Contains(got, "s3cret") {
			t.Errorf("store.RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
	_, err := parseServe([]string{"--alert-webhooks", "https://ok.example/h,ftp://u:s3cret@h/x?token=s3cret"}, env(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "URL 2 (ftp://h/…) is not an http(s) URL") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a bad webhook URL: %v", err)
	}
}
