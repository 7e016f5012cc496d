package store_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph"
	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/store"
	"github.com/rpg-archivist/archivist/store/storetest"
)

// Every store keeps persisted queries for the GraphQL handler. store does
// not import graph: the stores implement graph.QueryCache structurally, and
// these lines keep them doing so.
var (
	_ graph.QueryCache = (*store.Memory)(nil)
	_ graph.QueryCache = (*store.Bolt)(nil)
	_ graph.QueryCache = (*store.Redis)(nil)
)

func TestMemory(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) archivist.Store {
		s := store.NewMemory(store.Options{})
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestBolt(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) archivist.Store {
		s, err := store.OpenBolt(filepath.Join(t.TempDir(), "archivist.db"), store.Options{})
		if err != nil {
			t.Fatalf("OpenBolt: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	})
}

// redisClusters names the stores of the Redis tests apart, so that many
// share one server.
var redisClusters atomic.Int64

func uniqueCluster() string { return fmt.Sprintf("test-%d", redisClusters.Add(1)) }

// TestRedis runs the suite on one standalone server; each store is its own
// cluster (its own key prefix) with a client of its own.
func TestRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) archivist.Store {
		s, err := store.OpenRedis(t.Context(), store.RedisOptions{URL: srv.URL(), Cluster: uniqueCluster()})
		if err != nil {
			t.Fatalf("OpenRedis: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	})
}

// TestRedisCluster runs the suite on a 3-master Redis Cluster, every store
// sharing one cluster client that the test owns.
func TestRedisCluster(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	c := redistest.StartCluster(t)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = client.Close() })
	storetest.Run(t, func(t *testing.T) archivist.Store {
		s, err := store.OpenRedis(t.Context(), store.RedisOptions{Client: client, Cluster: uniqueCluster()})
		if err != nil {
			t.Fatalf("OpenRedis: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	})
}
