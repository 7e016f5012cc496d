package alert

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRedactWebhook(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://hooks.example.com/services/T0/B0/s3cret": "https://hooks.example.com/…",
		"http://u:s3cret@h:8080":                          "http://h:8080/…",
		"http://h:8080/?token=s3cret":                     "http://h:8080/…",
		"http://h:8080/":                                  "http://h:8080",
		"http://h:8080/%zz?token=s3cret":                  "(not a URL)",
	} {
		if got := RedactWebhook(in); got != want {
			t.Errorf("RedactWebhook(%q) = %q, want %q", in, got, want)
		}
	}
	// What net/http says of a failed POST carries the URL; withoutURL
	// keeps only the cause.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:1/h?token=s3cret", nil)
	_, err := http.DefaultClient.Do(req)
	if err == nil || !strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("expected an error with the URL, got %v", err)
	}
	if got := withoutURL(err); strings.Contains(got.Error(), "s3cret") {
		t.Errorf("withoutURL: %v", got)
	}
	if e := errors.New("HTTP 500"); withoutURL(e) != e {
		t.Error("withoutURL changed an error without a URL")
	}
}
