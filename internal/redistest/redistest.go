// Package redistest starts real redis-server processes for tests: a
// standalone server or a 3-master Redis Cluster, each on free loopback ports
// in a temporary folder, stopped when the test ends. It never touches the
// shared server on 6379. Launch and PickPort, which report errors instead
// of failing a test, serve harnesses that run outside one (the chaos run).
//
// Outside CI a missing redis-server skips the test with a message; in CI
// (CI=true) it fails it, since CI installs redis-server.
package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Server is a running redis-server.
type Server struct {
	Addr string
	Dir  string
	Port int
	// Password is the server's requirepass (StartWithPassword); URL does
	// not carry it.
	Password string
	conf     string // a config file given first (a sentinel's)
	args     []string
	proc     *Proc
	t        testing.TB
}

// Need skips (or, in CI, fails) the test when redis-server is missing.
func Need(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found: CI must install it (apt-get install redis-server)", bin)
			}
			t.Skipf("%s not found: install redis-server to run this test", bin)
		}
	}
}

// FreePort returns a loopback port that was free a moment ago (see
// PickPort), failing the test if there is none.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := PickPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// Start runs a standalone redis-server with AOF on (so that a restart keeps
// the data) and extra config args (as in "--maxmemory", "10mb").
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	return StartWithPassword(t, "", extra...)
}

// StartWithPassword is Start with a password the server requires
// (requirepass), when password is not empty.
func StartWithPassword(t testing.TB, password string, extra ...string) *Server {
	t.Helper()
	Need(t)
	dir := t.TempDir()
	s := &Server{Dir: dir, Password: password, t: t}
	s.args = append([]string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
		"--appendfsync", "always", "--dir", dir, "--protected-mode", "no"}, extra...)
	for attempt := 0; ; attempt++ {
		s.Port = FreePort(t)
		err := s.start()
		if err == nil {
			break
		}
		if attempt == 4 {
			t.Fatalf("start redis-server: %v", err)
		}
	}
	t.Cleanup(s.Kill)
	return s
}

func (s *Server) start() error {
	s.Addr = fmt.Sprintf("127.0.0.1:%d", s.Port)
	p, err := Launch(Config{Port: s.Port, Dir: s.Dir, Conf: s.conf, Password: s.Password, Args: s.args})
	if err != nil {
		return err
	}
	s.proc = p
	return nil
}

// Kill stops the server at once (SIGKILL).
func (s *Server) Kill() {
	if s.proc != nil {
		s.proc.Kill()
	}
}

// Freeze stops the server with SIGSTOP: it keeps its port, so that
// connections open and commands are sent, but nothing answers, as with a
// host gone silent. Kill (at the test's end) ends it.
func (s *Server) Freeze() {
	if s.proc != nil {
		s.proc.Freeze()
	}
}

// Restart kills the server and starts it again on the same port and
// folder: with AOF the data comes back.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	var err error
	for range 50 {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond) // the port may linger
	}
	s.t.Fatalf("restart redis-server: %v", err)
}

// URL is the store URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Cluster is a running 3-master Redis Cluster.
type Cluster struct {
	Nodes []*Server
}

// Addrs are the nodes' addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr
	}
	return out
}

// URL is a store URL naming every node.
func (c *Cluster) URL() string {
	return "redis+cluster://" + strings.Join(c.Addrs(), ",")
}

// StartCluster runs three cluster-enabled servers and joins them with
// redis-cli --cluster create, then waits until the cluster is ok.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	Need(t)
	c := &Cluster{}
	for range 3 {
		c.Nodes = append(c.Nodes, Start(t, "--cluster-enabled", "yes", "--cluster-node-timeout", "2000",
			"--appendonly", "no"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for {
		info, err := exec.CommandContext(ctx, "redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(c.Nodes[0].Port), "cluster", "info").Output()
		if err == nil && strings.Contains(string(info), "cluster_state:ok") {
			return c
		}
		select {
		case <-ctx.Done():
			t.Fatalf("cluster did not become ok: %s", info)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
