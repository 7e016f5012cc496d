package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/lifecycle"
)

// TestBodyDeadline checks that a request body sent too slowly fails to
// read once BodyTimeout has passed (the handler answers, the connection is
// freed), while a request whose body arrived in time, or that has none,
// may take longer than BodyTimeout to answer without being cancelled.
func TestBodyDeadline(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	mux := http.NewServeMux()
	mux.HandleFunc("/graphql", func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			w.WriteHeader(http.StatusRequestTimeout)
			return
		case err != nil:
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		// Answer after the deadline would have passed: the request must
		// still be alive.
		select {
		case <-time.After(3 * timeout):
		case <-r.Context().Done():
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "done")
	})
	s := New(Config{Addr: "127.0.0.1:0", GraphQL: mux, BodyTimeout: timeout, Env: lifecycle.Env{Logger: slog.New(slog.DiscardHandler)}})
	ctx := t.Context()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })

	// A body that never finishes.
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "POST /graphql HTTP/1.1\r\nHost: "+s.Addr()+"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"query\":")
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a slow body within 10 s: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("slow body: status %d, want 408", resp.StatusCode)
	}
	if took := time.Since(start); took < timeout {
		t.Errorf("slow body refused after %v, before the deadline of %v", took, timeout)
	}

	// A body sent at once, a handler slower than the deadline.
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		req, _ := http.NewRequestWithContext(ctx, method, s.URL()+"/graphql", strings.NewReader(`{"query":"{ x }"}`))
		if method == http.MethodGet {
			req.Body, req.ContentLength = http.NoBody, 0
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "done" {
			t.Errorf("%s answered after the body deadline: status %d %q, want 200 done", method, resp.StatusCode, body)
		}
	}
}
