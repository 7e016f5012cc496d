package chaos

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rpg-archivist/archivist/internal/redistest"
)

// redisProc is a redis-server on a fixed loopback port and folder, with
// AOF on so that a restart (SIGKILL, then start again) keeps the data.
type redisProc struct {
	Port int
	Dir  string
	args []string
	// conf is a config file given first (a sentinel needs one it can
	// rewrite); replicaOf, when set, starts the server as a replica of
	// that address.
	conf      string
	replicaOf string
	mu        sync.Mutex
	proc      *redistest.Proc
}

func (r *redisProc) Addr() string { return fmt.Sprintf("127.0.0.1:%d", r.Port) }

func newRedis(dir string, extra ...string) (*redisProc, error) {
	return newRedisAs(dir, "", extra...)
}

// newRedisAs starts a data server, as a replica of replicaOf when set.
func newRedisAs(dir, replicaOf string, extra ...string) (*redisProc, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	r := &redisProc{Dir: dir, replicaOf: replicaOf, args: append([]string{"--bind", "127.0.0.1", "--save", "",
		"--appendonly", "yes", "--appendfsync", "always", "--dir", dir, "--protected-mode", "no"}, extra...)}
	return r, r.startOnFreePort()
}

// newSentinel starts a sentinel watching the master at masterAddr under
// the name sentinelMaster: it sees the master down after 1 s.
func newSentinel(dir, masterAddr string) (*redisProc, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	host, port, _ := strings.Cut(masterAddr, ":")
	conf := filepath.Join(dir, "sentinel.conf")
	text := fmt.Sprintf("bind 127.0.0.1\nprotected-mode no\ndir %s\nsentinel monitor %s %s %s 2\n"+
		"sentinel down-after-milliseconds %[2]s 1000\nsentinel failover-timeout %[2]s 5000\nsentinel parallel-syncs %[2]s 1\n",
		dir, sentinelMaster, host, port)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, err
	}
	r := &redisProc{Dir: dir, conf: conf, args: []string{"--sentinel"}}
	return r, r.startOnFreePort()
}

const sentinelMaster = "archivist"

func (r *redisProc) startOnFreePort() error {
	var err error
	for range 5 {
		if r.Port, err = redistest.PickPort(); err != nil {
			return err
		}
		if err = r.start(); err == nil {
			return nil
		}
	}
	return fmt.Errorf("start redis-server: %w", err)
}

// start runs the server and waits (10 s at most) until it answers PING.
func (r *redisProc) start() error {
	args := r.args
	if r.replicaOf != "" {
		host, port, _ := strings.Cut(r.replicaOf, ":")
		args = append(slices.Clip(args), "--replicaof", host, port)
	}
	p, err := redistest.Launch(redistest.Config{Port: r.Port, Dir: r.Dir, Conf: r.conf, Args: args})
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.proc = p
	r.mu.Unlock()
	return nil
}

// kill stops the server with SIGKILL and waits until it is gone.
func (r *redisProc) kill() {
	r.mu.Lock()
	p := r.proc
	r.mu.Unlock()
	if p != nil {
		p.Kill()
	}
}

// restart starts the server again on its port and folder; the port may
// linger a moment, so it tries for up to 10 s.
func (r *redisProc) restart() error {
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = r.start(); err == nil {
			return nil
		}
	}
	return err
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// redisSet is the Redis of a run: one standalone server, or the masters of
// a Redis Cluster.
type redisSet struct {
	Topology string
	// Servers hold the data: the masters (and replicas) of a Redis
	// Cluster, or the master and replica watched by the sentinels.
	Servers   []*redisProc
	Sentinels []*redisProc
}

// URL is the store URL the nodes use.
func (s *redisSet) URL() string {
	if s.Topology == TopologySentinel {
		addrs := make([]string, len(s.Sentinels))
		for i, r := range s.Sentinels {
			addrs[i] = r.Addr()
		}
		return "redis+sentinel://" + strings.Join(addrs, ",") + "/" + sentinelMaster
	}
	if s.Topology != TopologyStandalone {
		addrs := make([]string, len(s.Servers))
		for i, r := range s.Servers {
			addrs[i] = r.Addr()
		}
		return "redis+cluster://" + strings.Join(addrs, ",")
	}
	return "redis://" + s.Servers[0].Addr() + "/0"
}

func (s *redisSet) kill() {
	for _, r := range append(s.Servers, s.Sentinels...) {
		r.kill()
	}
}

func startRedisSet(ctx context.Context, topology, dir string) (*redisSet, error) {
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("%s not found: install redis-server (Debian: apt-get install redis-server redis-tools)", bin)
		}
	}
	s := &redisSet{Topology: topology}
	switch topology {
	case TopologyStandalone:
		r, err := newRedis(filepath.Join(dir, "redis"))
		if err != nil {
			return nil, err
		}
		s.Servers = append(s.Servers, r)
		return s, nil
	case TopologySentinel:
		m, err := newRedis(filepath.Join(dir, "redis-0"))
		if err != nil {
			return nil, err
		}
		s.Servers = append(s.Servers, m)
		rep, err := newRedisAs(filepath.Join(dir, "redis-1"), m.Addr())
		if err != nil {
			s.kill()
			return nil, err
		}
		s.Servers = append(s.Servers, rep)
		for i := range 3 {
			sn, err := newSentinel(filepath.Join(dir, fmt.Sprintf("sentinel-%d", i)), m.Addr())
			if err != nil {
				s.kill()
				return nil, err
			}
			s.Sentinels = append(s.Sentinels, sn)
		}
		// Ready when the replica is in sync and every sentinel knows the
		// others and the replica.
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		for {
			info, _ := redisCLI(cctx, rep.Port, "info", "replication")
			ok := strings.Contains(info, "master_link_status:up")
			for _, sn := range s.Sentinels {
				out, _ := redisCLI(cctx, sn.Port, "sentinel", "master", sentinelMaster)
				ok = ok && strings.Contains(out, "num-other-sentinels\n2\n") && strings.Contains(out, "num-slaves\n1\n")
			}
			if ok {
				return s, nil
			}
			if !sleepCtx(cctx, 200*time.Millisecond) {
				s.kill()
				return nil, fmt.Errorf("sentinel set not ready within 60s: replica %q", lastLines(info, 3))
			}
		}
	case TopologyCluster, TopologyClusterReplicas:
		servers, replicas := 3, "0"
		if topology == TopologyClusterReplicas {
			servers, replicas = 6, "1"
		}
		for i := range servers {
			r, err := newRedis(filepath.Join(dir, fmt.Sprintf("redis-%d", i)), "--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
			if err != nil {
				s.kill()
				return nil, err
			}
			s.Servers = append(s.Servers, r)
		}
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		args := []string{"--cluster", "create"}
		for _, r := range s.Servers {
			args = append(args, r.Addr())
		}
		args = append(args, "--cluster-replicas", replicas, "--cluster-yes")
		if out, err := exec.CommandContext(cctx, "redis-cli", args...).CombinedOutput(); err != nil {
			s.kill()
			return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
		}
		if err := s.waitClusterOK(cctx); err != nil {
			s.kill()
			return nil, err
		}
		if err := s.waitReplicasSynced(cctx); err != nil {
			s.kill()
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("topology %q: not supported (use %s, %s, %s or %s)", topology,
		TopologyStandalone, TopologyCluster, TopologyClusterReplicas, TopologySentinel)
}

// master is the server that holds the cluster's keys: the sentinels'
// master, or the master of the keys' slot in a Redis Cluster.
func (s *redisSet) master(ctx context.Context) (*redisProc, error) {
	if s.Topology != TopologySentinel {
		return s.slotOwner(ctx)
	}
	var lastErr error
	for _, sn := range s.Sentinels {
		out, err := redisCLI(ctx, sn.Port, "sentinel", "get-master-addr-by-name", sentinelMaster)
		if err != nil {
			lastErr = err
			continue
		}
		f := strings.Fields(out)
		if len(f) != 2 {
			lastErr = fmt.Errorf("sentinel get-master-addr-by-name: %q", out)
			continue
		}
		for _, x := range s.Servers {
			if x.Addr() == f[0]+":"+f[1] {
				return x, nil
			}
		}
		lastErr = fmt.Errorf("sentinel names an unknown master %s:%s", f[0], f[1])
	}
	return nil, lastErr
}

// settle waits (30 s at most) until Redis serves again after a server
// came back: a Redis Cluster says ok, a sentinel's master answers and its
// replica is in sync.
func (s *redisSet) settle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch s.Topology {
	case TopologyStandalone:
		return nil
	case TopologySentinel:
		for {
			m, err := s.master(ctx)
			ok := err == nil
			for _, x := range s.Servers {
				if ok && x != m {
					info, _ := redisCLI(ctx, x.Port, "info", "replication")
					ok = strings.Contains(info, "master_link_status:up") && strings.Contains(info, "master_port:"+strconv.Itoa(m.Port))
				}
			}
			if ok {
				return nil
			}
			if !sleepCtx(ctx, 200*time.Millisecond) {
				return fmt.Errorf("sentinel set not settled within 30s (%v)", err)
			}
		}
	}
	return s.waitClusterOK(ctx)
}

// waitReplicasSynced waits until every replica of a Redis Cluster has done
// its first sync (master_link_status:up), so that nodes with wait_replicas
// start on replicas that acknowledge.
func (s *redisSet) waitReplicasSynced(ctx context.Context) error {
	for {
		ok := true
		for _, x := range s.Servers {
			info, err := redisCLI(ctx, x.Port, "info", "replication")
			if err != nil || (strings.Contains(info, "role:slave") && !strings.Contains(info, "master_link_status:up")) {
				ok = false
			}
		}
		if ok {
			return nil
		}
		if !sleepCtx(ctx, 200*time.Millisecond) {
			return fmt.Errorf("replicas not in sync within 60s")
		}
	}
}

// redisCLI runs redis-cli against one server (5 s at most).
func redisCLI(ctx context.Context, port int, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)...).Output()
	return string(out), err
}

// slotOwner is the server that is master of the slot of the cluster's
// keys, as the servers that answer see it.
func (s *redisSet) slotOwner(ctx context.Context) (*redisProc, error) {
	var lastErr error
	for _, r := range s.Servers {
		slot, err := redisCLI(ctx, r.Port, "cluster", "keyslot", "{archivist:"+clusterName+"}")
		if err != nil {
			lastErr = err
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(slot))
		if err != nil {
			lastErr = fmt.Errorf("cluster keyslot: %q", slot)
			continue
		}
		nodes, err := redisCLI(ctx, r.Port, "cluster", "nodes")
		if err != nil {
			lastErr = err
			continue
		}
		// <id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slot ranges...>
		for _, line := range strings.Split(nodes, "\n") {
			f := strings.Fields(line)
			if len(f) < 9 || !strings.Contains(f[2], "master") || strings.Contains(f[2], "fail") {
				continue
			}
			for _, rg := range f[8:] {
				lo, hi, _ := strings.Cut(rg, "-")
				a, err1 := strconv.Atoi(lo)
				b, err2 := strconv.Atoi(cmp.Or(hi, lo))
				if err1 != nil || err2 != nil || n < a || n > b {
					continue
				}
				addr, _, _ := strings.Cut(f[1], "@")
				for _, x := range s.Servers {
					if x.Addr() == addr {
						return x, nil
					}
				}
			}
		}
		lastErr = fmt.Errorf("no live master holds slot %d", n)
	}
	return nil, lastErr
}

// waitClusterOK waits until every master says cluster_state:ok.
func (s *redisSet) waitClusterOK(ctx context.Context) error {
	var last string
	for {
		ok := true
		for _, r := range s.Servers {
			info, err := exec.CommandContext(ctx, "redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(r.Port), "cluster", "info").Output()
			if err != nil || !strings.Contains(string(info), "cluster_state:ok") {
				ok, last = false, fmt.Sprintf("%s: %v %s", r.Addr(), err, lastLines(string(info), 1))
				break
			}
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis cluster not ok: %s", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

var addrRe = regexp.MustCompile(`msg="serving HTTP" .*addr=(\S+)`)

// nodeProc is one `archivist serve` process; it may be killed and started
// again under the same node id (on a new HTTP port).
type nodeProc struct {
	ID   string
	bin  string
	args []string
	env  []string
	log  io.Writer

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	addr    string
	stopped bool
}

// Addr is the node's HTTP address, "" while it is down or stopped.
func (n *nodeProc) Addr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped || n.cmd == nil {
		return ""
	}
	select {
	case <-n.done:
		return ""
	default:
	}
	return n.addr
}

// start runs the node and waits (60 s at most) until it serves HTTP.
func (n *nodeProc) start(ctx context.Context) error {
	cmd := exec.Command(n.bin, append([]string{"serve"}, n.args...)...)
	cmd.Env = append(os.Environ(), n.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintf(n.log, "%s %s\n", n.ID, line)
			if m := addrRe.FindStringSubmatch(line); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() { _ = cmd.Wait(); pw.Close(); close(done) }()
	n.mu.Lock()
	n.cmd, n.done, n.addr, n.stopped = cmd, done, "", false
	n.mu.Unlock()
	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	select {
	case a := <-found:
		n.mu.Lock()
		n.addr = a
		n.mu.Unlock()
		return nil
	case <-done:
		return fmt.Errorf("node %s exited before serving (see its log)", n.ID)
	case <-timer.C:
	case <-ctx.Done():
	}
	n.kill()
	return fmt.Errorf("node %s did not serve within 60s", n.ID)
}

// kill sends SIGKILL (also to a stopped process) and waits until it exits.
func (n *nodeProc) kill() {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// signal sends SIGSTOP or SIGCONT.
func (n *nodeProc) signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return errors.New("not started")
	}
	n.stopped = sig == syscall.SIGSTOP
	return n.cmd.Process.Signal(sig)
}
