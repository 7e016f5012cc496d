// Package redistest starts real redis-server processes for tests: a
// standalone server or a 3-master Redis Cluster, each on free loopback ports
// in a temporary folder, stopped when the test ends. It never touches the
// shared server on 6379.
//
// Outside CI a missing redis-server skips the test with a message; in CI
// (CI=true) it fails it, since CI installs redis-server.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a running redis-server.
type Server struct {
	Addr string
	Dir  string
	Port int
	conf string // a config file given first (a sentinel's)
	args []string
	cmd  *exec.Cmd
	t    testing.TB
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

// FreePort returns a loopback port that was free a moment ago. It is
// taken below the kernel's ephemeral range when it can be, so that the
// ports the kernel hands out meanwhile (to listeners on port 0, to the
// local end of outgoing connections) do not take it from a server that is
// restarted on it.
func FreePort(t testing.TB) int {
	t.Helper()
	if lo := ephemeralLow(); lo > 21000 {
		for range 50 {
			port := 20000 + rand.IntN(lo-20000)
			if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				l.Close()
				return port
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ephemeralLow is the first port of the kernel's ephemeral range (0 when
// unknown).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	lo, _ := strconv.Atoi(f[0])
	return lo
}

// Start runs a standalone redis-server with AOF on (so that a restart keeps
// the data) and extra config args (as in "--maxmemory", "10mb").
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	Need(t)
	dir := t.TempDir()
	s := &Server{Dir: dir, t: t}
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
	args := append([]string{"--port", strconv.Itoa(s.Port), "--logfile", filepath.Join(s.Dir, "redis.log")}, s.args...)
	if s.conf != "" {
		args = append([]string{s.conf}, args...)
	}
	s.cmd = exec.Command("redis-server", args...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
			return fmt.Errorf("redis-server exited: %s", tail(string(log)))
		default:
		}
		if Ping(s.Addr) == nil {
			// Another test's server may have taken the port (then ours
			// exits): make sure the one answering is ours.
			pid, err := processID(s.Addr)
			if err == nil && pid == s.cmd.Process.Pid {
				return nil
			}
			_ = s.cmd.Process.Kill()
			return fmt.Errorf("another process answers on %s (pid %d, ours %d, %v)", s.Addr, pid, s.cmd.Process.Pid, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = s.cmd.Process.Kill()
	return fmt.Errorf("redis-server on %s did not answer within 10s", s.Addr)
}

// Kill stops the server at once (SIGKILL).
func (s *Server) Kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_, _ = s.cmd.Process.Wait()
	}
}

// Freeze stops the server with SIGSTOP: it keeps its port, so that
// connections open and commands are sent, but nothing answers, as with a
// host gone silent. Kill (at the test's end) ends it.
func (s *Server) Freeze() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGSTOP)
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

// Ping sends PING over a raw connection and expects +PONG.
func Ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// processID asks the server on addr for its process id (INFO server).
func processID(addr string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("INFO server\r\n")); err != nil {
		return 0, err
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			return strconv.Atoi(v)
		}
	}
}

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

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}
