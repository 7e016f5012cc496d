package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpg-archivist/archivist/store"
)

// TestCloseStopsWhatStarted: a node whose start fails at a late step (its
// HTTP address is taken) and a node that started are both closed whole by
// Close: the node leaves (its registration is gone) and the store closes
// (the bolt file opens again); a second Close does nothing.
func TestCloseStopsWhatStarted(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() }) // the subtests run after this function returns
	for _, c := range []struct {
		name, http, err string
	}{
		{"start fails", taken.Addr().String(), "start HTTP listener: listen on " + taken.Addr().String()},
		{"started", "127.0.0.1:0", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "a.db")
			o, err := parseServe([]string{"--store", "bolt:" + path, "--http", c.http, "--node-id", "n1",
				"--cpu-threshold", "0", "--memory-threshold", "0"}, env(nil), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			m := NewMain(o, slog.New(slog.DiscardHandler))
			err = m.Run(t.Context())
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("Run = %v, want %q", err, c.err)
			}
			for range 2 {
				if err := m.Close(context.Background()); err != nil {
					t.Fatalf("Close = %v", err)
				}
			}
			if m.pool() != nil || m.elector() != nil || m.scheduler() != nil {
				t.Fatal("role parts left after Close")
			}
			st, err := store.Open("bolt:"+path, store.Options{})
			if err != nil {
				t.Fatalf("the store was not closed: %v", err)
			}
			defer st.Close()
			nodes, err := st.ListNodes(t.Context())
			if err != nil || len(nodes) != 0 {
				t.Fatalf("nodes after Close: %v %v; want the node gone", nodes, err)
			}
		})
	}
}
