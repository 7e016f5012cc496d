//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/zeroconf/v2"
	"golang.org/x/sys/unix"

	"github.com/rpg-archivist/archivist/discovery"
	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// mDNS discovery with real multicast. The namespace tests build their own
// network: a bridge in the root namespace and network namespaces joined to
// it by veth pairs, all on link-local addresses (169.254.0.0/16), and run
// real archivist processes inside the namespaces with `ip netns exec`.
// Nothing is sent on any other interface; everything is removed when the
// test ends, failed or not. They need root (CI runs as root); elsewhere they
// skip, saying why. The loopback tests browse on lo only.

// skipOrFail skips the test, or fails it in CI, where it must run.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("in CI this test must run: "+format, args...)
	}
	t.Skipf(format, args...)
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// ipCleanup runs an ip command at cleanup, logging a failure.
func ipCleanup(t *testing.T, args ...string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
			t.Logf("cleanup: ip %s: %v %s", strings.Join(args, " "), err, out)
		}
	})
}

// needNetns skips (fails in CI) unless network namespaces can be made here.
func needNetns(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("network namespace test")
	}
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root to create network namespaces (run as root, as CI does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skipOrFail(t, "needs the ip command (apt-get install iproute2)")
	}
	redistest.Need(t)
	probe := fmt.Sprintf("archprobe%d", rand.IntN(1e6))
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		skipOrFail(t, "cannot create a network namespace here (needs CAP_SYS_ADMIN): %v %s", err, out)
	}
	_ = exec.Command("ip", "netns", "del", probe).Run()
}

// netTopo is a bridge with a link-local address in the root namespace and
// namespaces each joined to it by a veth pair whose inner end is mdns0.
type netTopo struct {
	bridgeIP string
	ns       []string
	ips      []string
}

func newNetTopo(t *testing.T, n int) *netTopo {
	t.Helper()
	needNetns(t)
	id := fmt.Sprintf("%05x", rand.IntN(1<<20))
	subnet := 1 + rand.IntN(250)
	bridge := "arb" + id
	topo := &netTopo{bridgeIP: fmt.Sprintf("169.254.%d.1", subnet)}
	ipCmd(t, "link", "add", bridge, "type", "bridge", "mcast_snooping", "0")
	ipCleanup(t, "link", "del", bridge)
	ipCmd(t, "addr", "add", topo.bridgeIP+"/16", "dev", bridge)
	ipCmd(t, "link", "set", bridge, "up")
	for i := range n {
		ns := fmt.Sprintf("arch%s-%d", id, i)
		outer, inner := fmt.Sprintf("arv%s%d", id, i), fmt.Sprintf("arp%s%d", id, i)
		ip := fmt.Sprintf("169.254.%d.%d", subnet, 10+i)
		ipCmd(t, "netns", "add", ns)
		ipCleanup(t, "netns", "del", ns) // removes the veth pair with it
		ipCmd(t, "link", "add", outer, "type", "veth", "peer", "name", inner)
		ipCmd(t, "link", "set", outer, "master", bridge, "up")
		ipCmd(t, "link", "set", inner, "netns", ns)
		ipCmd(t, "-n", ns, "link", "set", inner, "name", "mdns0")
		ipCmd(t, "-n", ns, "addr", "add", ip+"/16", "dev", "mdns0")
		ipCmd(t, "-n", ns, "link", "set", "mdns0", "multicast", "on", "up")
		ipCmd(t, "-n", ns, "link", "set", "lo", "up")
		ipCmd(t, "-n", ns, "route", "add", "224.0.0.0/4", "dev", "mdns0")
		topo.ns = append(topo.ns, ns)
		topo.ips = append(topo.ips, ip)
	}
	return topo
}

// redisOnBridge starts a redis-server that listens on loopback (for the
// harness) and on the bridge address (for the namespaces).
func (n *netTopo) redisOnBridge(t *testing.T) (*redistest.Server, string) {
	t.Helper()
	r := redistest.Start(t, "--bind", "127.0.0.1", n.bridgeIP)
	addr := net.JoinHostPort(n.bridgeIP, fmt.Sprint(r.Port))
	if err := redistest.Ping(addr); err != nil {
		log, _ := os.ReadFile(r.Dir + "/redis.log")
		t.Fatalf("redis-server does not answer on the bridge address %s: %v\n%s", addr, err, log)
	}
	return r, "redis://" + addr + "/0"
}

// mdnsArgs are the flags of a node in namespace i: API on its address, mDNS
// on its veth with a short TTL so departures show within seconds.
func (n *netTopo) mdnsArgs(i int, id string, extra ...string) []string {
	return append([]string{"--http", n.ips[i] + ":0", "--node-id", id, "--discovery", "auto",
		"--mdns-interface", "mdns0", "--mdns-ttl", "2s", "--heartbeat-interval", "200ms", "--insecure"}, extra...)
}

// startNodeIn starts `archivist serve` inside namespace ns and waits until
// it serves.
func startNodeIn(t *testing.T, ns string, env []string, args ...string) *node {
	t.Helper()
	args = append([]string{"netns", "exec", ns, binPath, "serve", "--health-interval", "200ms",
		"--cpu-threshold", "0", "--memory-threshold", "0"}, args...)
	cmd := exec.Command("ip", args...) // ip execs archivist: same process
	cmd.Env = append(append(os.Environ(), "XDG_DATA_HOME="+t.TempDir()), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return startCmd(t, cmd, fmt.Sprintf("in %s %v", ns, args[4:]), 60*time.Second)
}

// runNodeIn runs `archivist serve` inside namespace ns until it exits (at
// most a minute) and returns its output and exit error.
func runNodeIn(t *testing.T, ns string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args = append([]string{"netns", "exec", ns, binPath, "serve"}, args...)
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Env = append(append(os.Environ(), "XDG_DATA_HOME="+t.TempDir()), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

type nodeInfo struct {
	ID, Status, Discovery string
}

func nodesOf(t *testing.T, n *node) map[string]nodeInfo {
	var out struct{ Nodes []nodeInfo }
	n.gql(t, `{ nodes { id status discovery } }`, nil, &out)
	m := map[string]nodeInfo{}
	for _, x := range out.Nodes {
		m[x.ID] = x
	}
	return m
}

func waitLog(t *testing.T, n *node, timeout time.Duration, what string, substrs ...string) {
	t.Helper()
	testkit.Eventually(t, timeout, func() bool {
		logs := n.logs.String()
		for _, line := range strings.Split(logs, "\n") {
			all := true
			for _, s := range substrs {
				if !strings.Contains(line, s) {
					all = false
					break
				}
			}
			if all {
				return true
			}
		}
		return false
	}, "%s", what)
}

// TestMDNSNamespacesCluster: a node in one namespace advertises its Redis
// store; a node started in another namespace with --discovery auto and no
// --store finds it and joins, ignoring a node of another cluster in a third
// namespace; tasks submitted to the first run on both; the joined node
// leaves the first one's discovered set once stopped.
func TestMDNSNamespacesCluster(t *testing.T) {
	topo := newNetTopo(t, 3)
	_, storeURL := topo.redisOnBridge(t)
	_, otherURL := topo.redisOnBridge(t)

	a := startNodeIn(t, topo.ns[0], nil, topo.mdnsArgs(0, "a", "--cluster", "lan", "--store", storeURL)...)
	other := startNodeIn(t, topo.ns[2], nil, topo.mdnsArgs(2, "o", "--cluster", "elsewhere", "--store", otherURL)...)
	b := startNodeIn(t, topo.ns[1], nil, topo.mdnsArgs(1, "b", "--cluster", "lan", "--role", "worker", "--join-timeout", "20s")...)

	waitLog(t, b, 5*time.Second, "b to join through a", "joining the cluster through a node found on the network", "peer=a", storeURL)
	// Beyond loopback without keys (--insecure): said at start and in the API.
	waitLog(t, a, time.Second, "a to warn that it is insecure", "INSECURE")
	var sess struct {
		Session struct {
			Insecure, AuthRequired bool
			Warnings               []string
		}
	}
	a.gql(t, `{ session { insecure authRequired warnings } }`, nil, &sess)
	if !sess.Session.Insecure || sess.Session.AuthRequired || len(sess.Session.Warnings) == 0 {
		t.Fatalf("session of an --insecure node: %+v", sess.Session)
	}
	testkit.Eventually(t, 15*time.Second, func() bool {
		ns := nodesOf(t, a)
		return len(ns) == 2 && ns["a"].Status == "ONLINE" && ns["b"].Status == "ONLINE" &&
			ns["a"].Discovery == "AUTO" && ns["b"].Discovery == "AUTO"
	}, "a and b online, both discovered by mDNS")
	waitLog(t, b, 10*time.Second, "b to ignore the other cluster's node", "ignoring a node of another cluster", "peer=o")
	waitLog(t, a, 10*time.Second, "a to find b", "mDNS: peer found", "peer=b")
	if ns := nodesOf(t, other); len(ns) != 1 || ns["o"].ID != "o" {
		t.Fatalf("the other cluster has nodes %v, want only o", ns)
	}

	// Work submitted to a runs in both namespaces, through the store.
	const total = 60
	submitSleeps(t, a, total, 20)
	testkit.Eventually(t, 60*time.Second, func() bool { return completed(t, a) == total }, "all tasks to complete")
	c := countTasks(t, a)
	if c.byNode["a"] == 0 || c.byNode["b"] == 0 || c.byNode["a"]+c.byNode["b"] != total {
		t.Fatalf("completed by node %v, want both a and b", c.byNode)
	}
	t.Logf("completed by node: %v", c.byNode)

	// b withdraws its record when it stops; a drops it once it expires.
	b.stop(t)
	waitLog(t, b, time.Second, "b to withdraw its record", "mDNS: advertisement withdrawn")
	waitLog(t, a, 15*time.Second, "a to see b leave", "peer gone", "peer=b")
}

// TestMDNSNamespacesSecret: with a cluster secret, records advertised from
// the test process in a namespace (unsigned, signed with another secret,
// signed long ago), pointing at a decoy store, are rejected and logged and
// never joined: alone, they leave a joining node with nothing to join (it
// exits non-zero); next to a node signed with the secret, the joining node
// joins that one's store, and the decoy store stays empty.
func TestMDNSNamespacesSecret(t *testing.T) {
	topo := newNetTopo(t, 3)
	_, storeURL := topo.redisOnBridge(t)
	decoy, decoyURL := topo.redisOnBridge(t)
	const secret = "a-secret-of-the-lan-cluster"
	env := []string{"ARCHIVIST_CLUSTER_SECRET=" + secret}

	now := time.Now()
	forge := func(id string, key string, at time.Time) []string {
		r := discovery.Record{NodeID: id, Cluster: "sec", Role: "HYBRID", API: topo.ips[1] + ":8080", Store: decoyURL}
		if key != "" {
			r.Sign([]byte(key), at)
		}
		return r.TXT()
	}
	advertiseIn(t, topo.ns[1], "forged-unsigned", forge("forged-unsigned", "", now))
	advertiseIn(t, topo.ns[1], "forged-wrongkey", forge("forged-wrongkey", "not-the-secret-at-all", now))
	advertiseIn(t, topo.ns[1], "forged-stale", forge("forged-stale", secret, now.Add(-time.Hour)))

	out, err := runNodeIn(t, topo.ns[2], env, topo.mdnsArgs(2, "lonely", "--cluster", "sec", "--join-timeout", "4s")...)
	if err == nil {
		t.Fatalf("a node with only forged records around started:\n%s", out)
	}
	for _, want := range []string{"no node of cluster sec advertising a shared store was found", "records rejected",
		"record is not signed", "signature does not match", "timestamp is too old"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}

	a := startNodeIn(t, topo.ns[0], env, topo.mdnsArgs(0, "a", "--cluster", "sec", "--store", storeURL)...)
	b := startNodeIn(t, topo.ns[2], env, topo.mdnsArgs(2, "b", "--cluster", "sec", "--join-timeout", "20s")...)
	waitLog(t, b, 5*time.Second, "b to join through a", "joining the cluster through a node found on the network", "peer=a", storeURL)
	testkit.Eventually(t, 15*time.Second, func() bool {
		ns := nodesOf(t, a)
		return len(ns) == 2 && ns["a"].Status == "ONLINE" && ns["b"].Status == "ONLINE"
	}, "a and b online")
	for _, who := range []*node{a, b} {
		waitLog(t, who, 10*time.Second, "the forged records to be rejected", "rejected a record", "forged-")
		for _, line := range strings.Split(who.logs.String(), "\n") {
			if strings.Contains(line, "peer found") && strings.Contains(line, "forged") {
				t.Fatalf("a forged record was admitted: %s", line)
			}
		}
	}
	if n := dbSize(t, decoy); n != 0 {
		t.Fatalf("the decoy store has %d keys: a node joined it", n)
	}
}

// advertiseIn advertises a record with the given TXT from this test
// process, inside namespace ns, with zeroconf directly, until the test
// ends.
func advertiseIn(t *testing.T, ns, instance string, txt []string) {
	t.Helper()
	var srv *zeroconf.Server
	err := inNetns(ns, func() error {
		ifi, err := net.InterfaceByName("mdns0")
		if err != nil {
			return err
		}
		addrs, _ := ifi.Addrs()
		var ips []string
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				ips = append(ips, ipn.IP.String())
			}
		}
		srv, err = zeroconf.RegisterProxy("archivist-sec-"+instance, discovery.MDNSService, discovery.MDNSDomain,
			8080, instance, ips, txt, []net.Interface{*ifi}, zeroconf.TTL(2))
		return err
	})
	if err != nil {
		t.Fatalf("advertise %s in %s: %v", instance, ns, err)
	}
	t.Cleanup(srv.Shutdown)
}

// inNetns runs f on an OS thread moved into network namespace ns, then
// moves the thread back. Sockets made in f stay in ns whatever thread uses
// them later. The thread must not die in ns: besides leaving the runtime a
// thread in the wrong namespace, its exit would send the Pdeathsig of the
// processes it once started (redistest's redis-server) and kill them.
func inNetns(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %v", ns, err)
			return
		}
		err = f()
		if e := unix.Setns(orig, unix.CLONE_NEWNET); e != nil {
			// Stay locked: the runtime then ends this thread with the
			// goroutine rather than reuse it.
			errc <- errors.Join(err, fmt.Errorf("setns back: %v", e))
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

func dbSize(t *testing.T, r *redistest.Server) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", r.Addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial redis: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("DBSIZE\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	var n int
	if _, perr := fmt.Sscanf(line, ":%d", &n); err != nil || perr != nil {
		t.Fatalf("DBSIZE answered %q, %v", line, err)
	}
	return n
}

// loopbackMDNS skips the test unless mDNS can run on lo.
func loopbackMDNS(t *testing.T) {
	t.Helper()
	ifaces, err := discovery.MulticastInterfaces([]string{"lo"})
	if err == nil {
		_, err = discovery.UsableIPTypes(ifaces, discovery.IPv4)
	}
	if err != nil {
		skipOrFail(t, "mDNS cannot run on lo here: %v", err)
	}
}

// TestMDNSNoPeerToJoin (on lo, no root needed): with --discovery auto, no
// --store and nobody of its cluster around, a node says so and exits
// non-zero, or with --standalone-fallback runs alone on the embedded store.
func TestMDNSNoPeerToJoin(t *testing.T) {
	loopbackMDNS(t)
	cluster := fmt.Sprintf("nobody%d", rand.IntN(1e9))
	args := []string{"--discovery", "auto", "--cluster", cluster, "--mdns-interface", "lo", "--join-timeout", "1s"}
	out, err := runNode(t, args...)
	if err == nil || !strings.Contains(err.Error(), "exit status") {
		t.Fatalf("want a non-zero exit, got %v:\n%s", err, out)
	}
	if !strings.Contains(out, fmt.Sprintf("no node of cluster %s advertising a shared store was found by mDNS within 1s on lo", cluster)) ||
		!strings.Contains(out, "--standalone-fallback") {
		t.Fatalf("the message does not say what happened and what to do:\n%s", out)
	}

	n := startNode(t, append(args, "--standalone-fallback", "--node-id", "alone")...)
	waitLog(t, n, 5*time.Second, "the fallback to be logged", "running standalone on the embedded store")
	testkit.Eventually(t, 5*time.Second, func() bool {
		ns := nodesOf(t, n)
		return len(ns) == 1 && ns["alone"].Discovery == "AUTO"
	}, "the node to report AUTO")
	n.stop(t)
	waitLog(t, n, time.Second, "the record to be withdrawn", "mDNS: advertisement withdrawn")
}
