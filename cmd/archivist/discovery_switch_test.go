//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/discovery"
	"github.com/rpg-archivist/archivist/internal/mdnstest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// The discovery method changes at run time, with real multicast between
// network namespaces (see mdns_test.go for the network the tests build).

// bridgeInterface is the root-namespace interface that holds ip: the
// bridge of a netTopo.
func bridgeInterface(t *testing.T, ip string) net.Interface {
	t.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifi := range ifaces {
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.String() == ip {
				return ifi
			}
		}
	}
	t.Fatalf("no interface holds %s", ip)
	return net.Interface{}
}

type switchNode struct {
	ID, Discovery string
	Admitted      bool
	ConfigVersion int
}

func switchNodes(t *testing.T, n *node) map[string]switchNode {
	t.Helper()
	var out struct{ Nodes []switchNode }
	n.gql(t, `{ nodes { id discovery admitted configVersion } }`, nil, &out)
	m := map[string]switchNode{}
	for _, x := range out.Nodes {
		m[x.ID] = x
	}
	return m
}

// updateDiscovery calls updateConfig and returns the new config version.
func updateDiscovery(t *testing.T, n *node, method string, peers []string) int {
	t.Helper()
	in := map[string]any{"discovery": method}
	if peers != nil {
		in["peers"] = peers
	}
	var out struct {
		UpdateConfig struct {
			Version   int
			Discovery string
		}
	}
	n.gql(t, `mutation($in: ConfigInput!) { updateConfig(input: $in) { version discovery } }`, map[string]any{"in": in}, &out)
	if out.UpdateConfig.Discovery != method {
		t.Fatalf("updateConfig stored discovery %s, want %s", out.UpdateConfig.Discovery, method)
	}
	return out.UpdateConfig.Version
}

// waitDiscovery waits until every node of ids runs config version and
// reports method, and returns how long that took.
func waitDiscovery(t *testing.T, n *node, ids []string, version int, method string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	testkit.Eventually(t, timeout, func() bool {
		ns := switchNodes(t, n)
		for _, id := range ids {
			if x := ns[id]; x.Discovery != method || x.ConfigVersion < version {
				return false
			}
		}
		return true
	}, "every node to report discovery %s", method)
	return time.Since(start)
}

// TestMDNSDiscoverySwitch: three nodes in three namespaces share a Redis
// store on REGISTRY (c started with an explicit --discovery registry).
// updateConfig to AUTO: within about a heartbeat every node reports AUTO,
// and a browser on the bridge finds the three records; they all take tasks.
// Back to REGISTRY: every node sends a goodbye, a fresh browse finds none,
// and they report REGISTRY. MANUAL with a peer list without c: c shows
// admitted=false, says so in its log, and gets none of the tasks; named
// again, it is admitted again. A fourth node, d, whose namespace has no
// multicast interface, says once that mDNS cannot run and reports REGISTRY
// throughout.
func TestMDNSDiscoverySwitch(t *testing.T) {
	topo := newNetTopo(t, 4)
	_, storeURL := topo.redisOnBridge(t)
	bridge := bridgeInterface(t, topo.bridgeIP)
	cluster := fmt.Sprintf("sw%d", rand.IntN(1e6))
	ids := []string{"a", "b", "c"}
	const heartbeat = 200 * time.Millisecond
	args := func(i int, id string, extra ...string) []string {
		return append([]string{"--http", topo.ips[i] + ":0", "--node-id", id, "--cluster", cluster, "--store", storeURL,
			"--mdns-ttl", "2s", "--heartbeat-interval", heartbeat.String(), "--insecure"}, extra...)
	}
	a := startNodeIn(t, topo.ns[0], nil, args(0, "a", "--mdns-interface", "mdns0")...)
	b := startNodeIn(t, topo.ns[1], nil, args(1, "b", "--mdns-interface", "mdns0")...)
	c := startNodeIn(t, topo.ns[2], nil, args(2, "c", "--mdns-interface", "mdns0", "--discovery", "registry")...)
	nodes := []*node{a, b, c}
	// d's namespace has no multicast interface: mDNS cannot run there.
	ipCmd(t, "-n", topo.ns[3], "link", "set", "mdns0", "multicast", "off")
	d := startNodeIn(t, topo.ns[3], nil, args(3, "d")...)
	waitDiscovery(t, a, append(ids, "d"), 0, "REGISTRY", 15*time.Second)
	bye := mdnstest.WatchGoodbyes(t, &bridge)

	// AUTO: every node advertises and browses.
	browser := mdnstest.Browse(t, cluster, []net.Interface{bridge})
	v := updateDiscovery(t, a, "AUTO", nil)
	took := waitDiscovery(t, a, ids, v, "AUTO", 3*heartbeat)
	t.Logf("every node reported AUTO %s after updateConfig (heartbeat %s)", took, heartbeat)
	// d says once why it cannot, and reports what it runs.
	waitLog(t, d, time.Second, "d to say that mDNS cannot run", "mDNS cannot run on this node", "no network interface is up and multicast-capable")
	if x := switchNodes(t, a)["d"]; x.Discovery != "REGISTRY" || x.ConfigVersion < v {
		t.Fatalf("d without multicast reports %+v, want REGISTRY at config v%d", x, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	for _, id := range ids {
		p, err := browser.WaitPeer(ctx, func(p discovery.Peer) bool { return p.NodeID == id })
		if err != nil {
			cancel()
			t.Fatalf("the record of %s is not found on the bridge: %v (found %v)", id, err, browser.Peers())
		}
		if !slices.ContainsFunc(topo.ips, func(ip string) bool { return strings.HasPrefix(p.API, ip+":") }) {
			t.Errorf("%s advertises API %s, not an address of its namespace", id, p.API)
		}
	}
	cancel()
	if p := browser.Peers(); slices.ContainsFunc(p, func(p discovery.Peer) bool { return p.NodeID == "d" }) {
		t.Fatalf("d, without multicast, is found by mDNS: %v", p)
	}
	for i, n := range nodes {
		waitLog(t, n, 5*time.Second, ids[i]+" to find the others", "mDNS: peer found", "peer="+ids[(i+1)%3])
	}
	const batch = 30
	submitSleeps(t, a, batch, 20)
	testkit.Eventually(t, 30*time.Second, func() bool { return completed(t, a) == batch }, "the first tasks to complete")
	before := countTasks(t, a)
	for _, id := range ids {
		if before.byNode[id] == 0 {
			t.Fatalf("on AUTO, %s ran no task: %v", id, before.byNode)
		}
	}

	// Back to REGISTRY: goodbyes, nothing left to browse.
	if err := browser.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	v = updateDiscovery(t, a, "REGISTRY", nil)
	took = waitDiscovery(t, a, ids, v, "REGISTRY", 3*heartbeat)
	t.Logf("every node reported REGISTRY %s after updateConfig", took)
	for i, id := range ids {
		instance := "archivist-" + cluster + "-" + id
		testkit.Eventually(t, 2*time.Second, func() bool { return bye.Seen(instance) }, "the goodbye of %s", instance)
		waitLog(t, nodes[i], time.Second, id+" to stop browsing", "mDNS discovery stopped")
	}
	fresh := mdnstest.Browse(t, cluster, []net.Interface{bridge})
	ctx, cancel = context.WithTimeout(context.Background(), 1500*time.Millisecond) // three browse rounds
	p, err := fresh.WaitPeer(ctx, func(discovery.Peer) bool { return true })
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("after REGISTRY a browse still finds %v (%v)", p, err)
	}

	// MANUAL without c: c is not admitted and gets no task.
	v = updateDiscovery(t, a, "MANUAL", []string{"a", "b"})
	waitDiscovery(t, a, ids, v, "MANUAL", 3*heartbeat)
	ns := switchNodes(t, a)
	if !ns["a"].Admitted || !ns["b"].Admitted || ns["c"].Admitted || ns["d"].Admitted {
		t.Fatalf("admitted under MANUAL [a b]: %+v", ns)
	}
	waitLog(t, c, time.Second, "c to say it is not admitted", "this node is NOT admitted", "node_id=c")
	submitSleeps(t, b, batch, 20)
	testkit.Eventually(t, 30*time.Second, func() bool { return completed(t, a) == 2*batch }, "the MANUAL tasks to complete")
	after := countTasks(t, a)
	for _, out := range []string{"c", "d"} {
		if after.byNode[out] != before.byNode[out] {
			t.Fatalf("%s, outside the peer list, ran %d tasks", out, after.byNode[out]-before.byNode[out])
		}
	}
	if after.byNode["a"] == before.byNode["a"] || after.byNode["b"] == before.byNode["b"] {
		t.Fatalf("under MANUAL [a b], a and b did not both take tasks: before %v, after %v", before.byNode, after.byNode)
	}
	for _, n := range []*node{a, b} {
		if strings.Contains(n.logs.String(), "this node is NOT admitted") {
			t.Fatalf("an admitted node says it is not:\n%s", n.logs.String())
		}
	}

	// c named again: admitted, and says so.
	v = updateDiscovery(t, a, "MANUAL", []string{"a", "b", "c"})
	waitDiscovery(t, a, ids, v, "MANUAL", 3*heartbeat)
	if ns := switchNodes(t, a); !ns["c"].Admitted {
		t.Fatalf("c named in the peer list is not admitted: %+v", ns["c"])
	}
	waitLog(t, c, time.Second, "c to say it is admitted again", "admitted to the cluster again")
	if n := strings.Count(d.logs.String(), "mDNS cannot run on this node"); n != 1 {
		t.Fatalf("d warned %d times that mDNS cannot run, want once (one switch to AUTO)", n)
	}
}
