// Command archivist-chaos runs a cluster of real archivist nodes on a real
// Redis under a random schedule of faults while it submits tasks, then
// checks the cluster's invariants and prints what it did (make chaos).
// It exits 1 when an invariant is broken, 2 when the run itself failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist/internal/chaos"
)

// quietRedis drops go-redis's own log lines (sentinel discovery and the
// like, from the harness's reader of the event stream): the report says
// what matters.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func main() {
	var o chaos.Options
	flag.StringVar(&o.Bin, "bin", "bin/archivist", "the archivist binary to run")
	flag.StringVar(&o.Topology, "topology", chaos.TopologyStandalone,
		"Redis: standalone, cluster (3 masters, no replicas), cluster-replicas (3 masters, 3 replicas, with failovers) or sentinel (a master, a replica, 3 sentinels, with failovers)")
	flag.IntVar(&o.Nodes, "nodes", 3, "archivist nodes")
	flag.DurationVar(&o.Duration, "duration", 3*time.Minute, "how long faults are injected")
	flag.Uint64Var(&o.Seed, "seed", 0, "seed of the fault schedule and the tasks (0: from the clock; printed at start)")
	flag.Float64Var(&o.Rate, "rate", 8, "tasks submitted per second")
	flag.DurationVar(&o.Settle, "settle", 2*time.Minute, "at most this long for the cluster to settle once faults stop")
	flag.DurationVar(&o.MaxLeaderless, "max-leaderless", 0, "fail when the cluster is longer than this without a live leader (0: only report it)")
	waitReplicas := flag.Int("wait-replicas", -1, "the nodes' wait_replicas: every write waits until this many Redis replicas have it (-1: 1 for cluster-replicas and sentinel, 0 otherwise)")
	flag.StringVar(&o.Dir, "dir", "", "folder for the nodes' logs and Redis data (default: a temporary one, removed after a clean run)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "archivist-chaos: unexpected arguments %v\n", flag.Args())
		os.Exit(2)
	}
	switch {
	case *waitReplicas == 0:
		o.WaitReplicas = -1
	case *waitReplicas > 0:
		o.WaitReplicas = *waitReplicas
	}
	redis.SetLogger(quietRedis{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	res, err := chaos.Run(ctx, o)
	stop()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			err = errors.New("interrupted; every process it started is stopped")
		}
		seed := ""
		if res != nil {
			seed = fmt.Sprintf(" (seed %d; logs in %s)", res.Seed, res.Dir)
		}
		fmt.Fprintf(os.Stderr, "archivist-chaos: %v%s\n", err, seed)
		os.Exit(2)
	}
	if len(res.Violations) > 0 {
		fmt.Fprintf(os.Stderr, "archivist-chaos: %d invariant(s) broken (seed %d)\n", len(res.Violations), res.Seed)
		os.Exit(1)
	}
}
