package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/testkit"
)

// get fetches url and returns the status code, or the error.
func get(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// Start listens before it returns and is idempotent; a stopped server
// answers nothing and listens again when started again.
func TestServerStartIdempotentAndRestartable(t *testing.T) {
	t.Parallel()
	s := New(Config{Addr: "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	addr := s.Addr()
	if err := s.Start(ctx); err != nil || s.Addr() != addr {
		t.Fatalf("second Start = %v, address %s then %s", err, addr, s.Addr())
	}
	cancel() // the server outlives Start's context
	if code, err := get(s.URL() + "/healthz"); err != nil || code != http.StatusOK {
		t.Fatalf("healthz after Start: %d, %v", code, err)
	}

	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	<-s.Stopped()
	if _, err := get(s.URL() + "/healthz"); err == nil {
		t.Fatal("a stopped server answered")
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}

	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start after Stop: %v", err)
	}
	<-s.Started()
	if code, err := get(s.URL() + "/healthz"); err != nil || code != http.StatusOK {
		t.Fatalf("healthz after a restart: %d, %v", code, err)
	}
}

// Stop cancels the request contexts first (closing WebSockets and other
// long requests that follow their context), so that the graceful shutdown
// does not wait for them; a request that ignores its context holds Stop
// only until Stop's context ends, which closes its connection.
func TestServerStopClosesLongRequests(t *testing.T) {
	t.Parallel()
	inside, release := make(chan struct{}, 1), make(chan struct{})
	s := New(Config{Addr: "127.0.0.1:0", GraphQL: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inside <- struct{}{}
		if r.Method == http.MethodPost {
			<-release // ignores its context
			return
		}
		<-r.Context().Done()
	})})
	start := func() {
		t.Helper()
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	start()
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	t.Cleanup(func() { close(release) })

	// A request that follows its context.
	answered := make(chan error, 1)
	go func() { _, err := get(s.URL() + "/graphql"); answered <- err }()
	testkit.Signal(t, inside, 5*time.Second, "the request to reach its handler")
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop with a request that follows its context: %v", err)
	}
	testkit.Signal(t, answered, 5*time.Second, "the long request to end")

	// A request that does not.
	start()
	go func() {
		resp, err := http.Post(s.URL()+"/graphql", "application/json", nil)
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()
	testkit.Signal(t, inside, 5*time.Second, "the request to reach its handler")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err := s.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(begin) > 5*time.Second {
		t.Fatalf("Stop = %v after %s, want a deadline error after 200ms", err, time.Since(begin))
	}
	testkit.Signal(t, s.Stopped(), 5*time.Second, "the server to close its connections")
	if err := testkit.Signal(t, answered, 5*time.Second, "the client to see its connection closed"); err == nil {
		t.Fatal("the request that outlived Stop's context was answered")
	}
}
