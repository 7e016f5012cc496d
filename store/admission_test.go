package store_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/store"
)

// TestAdmissionFieldsRoundTrip: every store keeps a node's admission proof
// verifiable (its id and start time to the nanosecond) and the cluster
// config's verifier, including in the config event.
func TestAdmissionFieldsRoundTrip(t *testing.T) {
	t.Parallel()
	opens := map[string]func(t *testing.T) archivist.Store{
		"memory": func(t *testing.T) archivist.Store { return store.NewMemory(store.Options{}) },
		"bolt": func(t *testing.T) archivist.Store {
			s, err := store.OpenBolt(filepath.Join(t.TempDir(), "a.db"), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"redis": func(t *testing.T) archivist.Store {
			srv := redistest.Start(t)
			s, err := store.OpenRedis(t.Context(), store.RedisOptions{URL: srv.URL(), Cluster: uniqueCluster()})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	for name, open := range opens {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			ctx := t.Context()
			key := archivist.DeriveAdmissionKey("a cluster secret of 16+", "c1")
			sub, err := s.Subscribe(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()

			cfg := archivist.DefaultConfig()
			cfg.AdmissionKey = key.Verifier()
			if _, err := s.UpdateConfig(ctx, cfg, 0); err != nil {
				t.Fatal(err)
			}
			got, err := s.Config(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got.AdmissionKey != key.Verifier() {
				t.Fatalf("stored config has admission key %q, want %q", got.AdmissionKey, key.Verifier())
			}

			started := time.Now().Add(-time.Hour) // with a monotonic reading and nanoseconds
			n := &archivist.Node{ID: "n1", Role: archivist.RoleWorker, Workers: 1, StartedAt: started,
				LastHeartbeat: time.Now(), AdmissionProof: key.Prove("n1", started)}
			if _, err := s.Heartbeat(ctx, n); err != nil {
				t.Fatal(err)
			}
			nodes, err := s.ListNodes(ctx)
			if err != nil || len(nodes) != 1 {
				t.Fatalf("ListNodes: %v %v", nodes, err)
			}
			if !archivist.VerifyAdmission(got.AdmissionKey, nodes[0]) {
				t.Errorf("the stored node's proof does not verify: %+v", nodes[0])
			}

			timeout := time.After(5 * time.Second)
			for seen := 0; seen < 2; {
				select {
				case ev := <-sub.C():
					switch {
					case ev.Kind == archivist.EventConfig:
						seen++
						if ev.Config == nil || ev.Config.AdmissionKey != key.Verifier() {
							t.Errorf("config event without the admission key: %+v", ev.Config)
						}
					case ev.Kind == archivist.EventNode && ev.Node != nil && ev.Node.ID == "n1":
						seen++
						if !archivist.VerifyAdmission(key.Verifier(), ev.Node) {
							t.Errorf("the node event's proof does not verify: %+v", ev.Node)
						}
					}
				case <-timeout:
					t.Fatal("no config and node events within 5s")
				}
			}
		})
	}
}
