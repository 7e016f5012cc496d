package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sets with replicas, for failover tests: a Redis Cluster of three masters
// and three replicas, and a Sentinel set of a master, a replica and three
// sentinels. Both notice a dead master within about a second and promote
// its replica a second or so later.

// replicaArgs make a replica's first sync start at once (the default waits
// 5s for more replicas to join a diskless sync) and let a replica take over
// however long it was cut off.
var replicaArgs = []string{"--appendonly", "no", "--repl-diskless-sync", "yes",
	"--repl-diskless-sync-delay", "0"}

// StartReplicatedCluster runs a Redis Cluster of three masters, each with a
// replica, with a cluster-node-timeout of 1s, and waits until every replica
// is in sync.
func StartReplicatedCluster(t testing.TB) *Cluster {
	t.Helper()
	Need(t)
	c := &Cluster{}
	for range 6 {
		args := append([]string{"--cluster-enabled", "yes", "--cluster-node-timeout", "1000",
			"--cluster-replica-validity-factor", "0"}, replicaArgs...)
		c.Nodes = append(c.Nodes, Start(t, args...))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for {
		ok, why := c.settled(ctx)
		if ok {
			return c
		}
		select {
		case <-ctx.Done():
			t.Fatalf("replicated cluster did not settle: %s", why)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// settled reports whether every node sees the cluster ok and three replicas
// are connected to their masters.
func (c *Cluster) settled(ctx context.Context) (bool, string) {
	replicas := 0
	for _, n := range c.Nodes {
		info, err := Do(ctx, n.Addr, "CLUSTER", "INFO")
		if err != nil {
			return false, err.Error()
		}
		if s, _ := info.(string); !strings.Contains(s, "cluster_state:ok") {
			return false, n.Addr + " not ok"
		}
		role, err := Role(ctx, n.Addr)
		if err != nil {
			return false, err.Error()
		}
		if role.Replica && role.State == "connected" {
			replicas++
		}
	}
	return replicas == 3, fmt.Sprintf("%d of 3 replicas in sync", replicas)
}

// MasterOf is the node that serves key's slot as master.
func (c *Cluster) MasterOf(ctx context.Context, key string) (*Server, error) {
	for _, n := range c.Nodes {
		slot, err := Do(ctx, n.Addr, "CLUSTER", "KEYSLOT", key)
		if err != nil {
			continue
		}
		slots, err := Do(ctx, n.Addr, "CLUSTER", "SLOTS")
		if err != nil {
			continue
		}
		for _, s := range slots.([]any) {
			r := s.([]any)
			lo, hi := r[0].(int64), r[1].(int64)
			if slot.(int64) < lo || slot.(int64) > hi {
				continue
			}
			m := r[2].([]any)
			addr := fmt.Sprintf("%s:%d", m[0], m[1].(int64))
			for _, x := range c.Nodes {
				if x.Addr == addr {
					return x, nil
				}
			}
			return nil, fmt.Errorf("slot %d served by %s, not one of ours", slot, addr)
		}
	}
	return nil, fmt.Errorf("no node knows the master of %q", key)
}

// ReplicaOf is the node that replicates master.
func (c *Cluster) ReplicaOf(ctx context.Context, master *Server) (*Server, error) {
	for _, n := range c.Nodes {
		if role, err := Role(ctx, n.Addr); err == nil && role.Replica && role.MasterPort == master.Port {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no replica of %s", master.Addr)
}

// RoleInfo is what ROLE answers.
type RoleInfo struct {
	Replica    bool   // false: a master (or a sentinel)
	MasterPort int    // a replica's master
	State      string // a replica's link: connect, connecting, sync, connected
}

// Role asks the server on addr for its ROLE.
func Role(ctx context.Context, addr string) (RoleInfo, error) {
	v, err := Do(ctx, addr, "ROLE")
	if err != nil {
		return RoleInfo{}, err
	}
	a, _ := v.([]any)
	if len(a) == 0 {
		return RoleInfo{}, fmt.Errorf("ROLE of %s: %v", addr, v)
	}
	if a[0] != "slave" {
		return RoleInfo{}, nil
	}
	if len(a) < 4 {
		return RoleInfo{}, fmt.Errorf("ROLE of %s: %v", addr, v)
	}
	port, _ := a[2].(int64)
	state, _ := a[3].(string)
	return RoleInfo{Replica: true, MasterPort: int(port), State: state}, nil
}

// Do sends one command to the server on addr over a connection of its own,
// with a 2s bound.
func Do(ctx context.Context, addr string, args ...any) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second,
		DialerRetries: 1, PoolSize: 1, Protocol: 2, DisableIdentity: true})
	defer c.Close()
	return c.Do(ctx, args...).Result()
}

// WaitMaster waits until the server on addr answers ROLE as a master and
// returns when it saw that (within about 20ms).
func WaitMaster(t testing.TB, addr string, timeout time.Duration) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		if role, err := Role(ctx, addr); err == nil && !role.Replica {
			return time.Now()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not become a master within %s", addr, timeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// SentinelSet is a master, its replica and three sentinels that watch it
// under the name Name (quorum 2).
type SentinelSet struct {
	Name      string
	Master    *Server
	Replica   *Server
	Sentinels []*Server
}

// SentinelAddrs are the sentinels' addresses.
func (s *SentinelSet) SentinelAddrs() []string {
	out := make([]string, len(s.Sentinels))
	for i, n := range s.Sentinels {
		out[i] = n.Addr
	}
	return out
}

// URL is the store URL of the set (redis+sentinel://).
func (s *SentinelSet) URL() string {
	return "redis+sentinel://" + strings.Join(s.SentinelAddrs(), ",") + "/" + s.Name
}

// StartSentinel runs a master, a replica and three sentinels (redis-server
// --sentinel) that call the master down after 1s without an answer, and
// waits until each sentinel knows the replica and the other two sentinels.
func StartSentinel(t testing.TB) *SentinelSet {
	t.Helper()
	Need(t)
	s := &SentinelSet{Name: "archivist"}
	s.Master = Start(t, replicaArgs...)
	s.Replica = Start(t, append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port)}, replicaArgs...)...)
	for range 3 {
		s.Sentinels = append(s.Sentinels, startSentinel(t, s.Name, s.Master.Port))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		ok, why := s.settled(ctx)
		if ok {
			return s
		}
		select {
		case <-ctx.Done():
			t.Fatalf("sentinel set did not settle: %s", why)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func startSentinel(t testing.TB, name string, masterPort int) *Server {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	text := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d 2\n"+
		"sentinel down-after-milliseconds %[1]s 1000\n"+
		"sentinel failover-timeout %[1]s 3000\n"+
		"sentinel parallel-syncs %[1]s 1\n", name, masterPort)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &Server{Dir: dir, t: t, conf: conf,
		args: []string{"--sentinel", "--bind", "127.0.0.1", "--protected-mode", "no", "--dir", dir}}
	for attempt := 0; ; attempt++ {
		s.Port = FreePort(t)
		err := s.start()
		if err == nil {
			break
		}
		if attempt == 4 {
			t.Fatalf("start redis sentinel: %v", err)
		}
	}
	t.Cleanup(s.Kill)
	return s
}

// settled reports whether the replica is in sync and every sentinel knows
// it and the two other sentinels.
func (s *SentinelSet) settled(ctx context.Context) (bool, string) {
	role, err := Role(ctx, s.Replica.Addr)
	if err != nil || role.State != "connected" {
		return false, fmt.Sprintf("replica not in sync (%+v, %v)", role, err)
	}
	for _, n := range s.Sentinels {
		others, err := Do(ctx, n.Addr, "SENTINEL", "SENTINELS", s.Name)
		if err != nil {
			return false, err.Error()
		}
		if l, _ := others.([]any); len(l) != 2 {
			return false, fmt.Sprintf("sentinel %s knows %d others", n.Addr, len(l))
		}
		reps, err := Do(ctx, n.Addr, "SENTINEL", "REPLICAS", s.Name)
		if err != nil {
			return false, err.Error()
		}
		if l, _ := reps.([]any); len(l) != 1 {
			return false, fmt.Sprintf("sentinel %s knows %d replicas", n.Addr, len(l))
		}
	}
	return true, ""
}

// MasterAddr is the master's address as the first sentinel that answers
// gives it (SENTINEL GET-MASTER-ADDR-BY-NAME).
func (s *SentinelSet) MasterAddr(ctx context.Context) (string, error) {
	var last error
	for _, n := range s.Sentinels {
		v, err := Do(ctx, n.Addr, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.Name)
		if err != nil {
			last = err
			continue
		}
		a, _ := v.([]any)
		if len(a) == 2 {
			return fmt.Sprintf("%v:%v", a[0], a[1]), nil
		}
		last = fmt.Errorf("sentinel %s: %v", n.Addr, v)
	}
	return "", last
}

// WaitSwitched waits until every sentinel names addr as the master and
// returns when it saw that.
func (s *SentinelSet) WaitSwitched(t testing.TB, addr string, timeout time.Duration) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		n := 0
		for _, x := range s.Sentinels {
			v, err := Do(ctx, x.Addr, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.Name)
			if a, _ := v.([]any); err == nil && len(a) == 2 && fmt.Sprintf("%v:%v", a[0], a[1]) == addr {
				n++
			}
		}
		if n == len(s.Sentinels) {
			return time.Now()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("sentinels did not switch to %s within %s", addr, timeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
