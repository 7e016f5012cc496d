package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/discovery"
	"github.com/rpg-archivist/archivist/internal/mdnstest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// The discovery method changes at run time. These tests run a node in this
// process on the memory store, with mDNS on the loopback interface only
// (named explicitly: nothing is sent elsewhere), and change the cluster's
// method through the store as updateConfig does.

// needLoopbackMDNS skips unless mDNS can run on lo.
func needLoopbackMDNS(t *testing.T) {
	t.Helper()
	ifaces, err := discovery.MulticastInterfaces([]string{"lo"})
	if err == nil {
		_, err = discovery.UsableIPTypes(ifaces, discovery.IPv4)
	}
	if err != nil {
		t.Skipf("mDNS cannot run on lo here: %v", err)
	}
}

// startLoopbackNode runs a node with mDNS on lo and returns it with its
// log. The node is closed at cleanup.
func startLoopbackNode(t *testing.T, cluster, id string, extra ...string) (*Main, *testkit.Buffer) {
	t.Helper()
	args := append([]string{"--store", "memory", "--http", "127.0.0.1:0", "--node-id", id, "--cluster", cluster,
		"--mdns-interface", "lo", "--mdns-ttl", "2s", "--heartbeat-interval", "50ms",
		"--cpu-threshold", "0", "--memory-threshold", "0"}, extra...)
	o, err := parseServe(args, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.Buffer{}
	m := NewMain(o, slog.New(slog.NewTextHandler(logs, nil)))
	if err := m.Run(t.Context()); err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	t.Cleanup(func() {
		_ = m.Close(context.Background())
		if t.Failed() {
			t.Logf("node log:\n%s", logs.String())
		}
	})
	return m, logs
}

// setDiscovery changes the cluster's discovery method (and peer list) as
// updateConfig does.
func setDiscovery(t *testing.T, m *Main, d archivist.DiscoveryMethod, peers ...string) archivist.Config {
	t.Helper()
	ctx := context.Background()
	for range 10 {
		cur, err := m.Store.Config(ctx)
		if err != nil {
			t.Fatal(err)
		}
		next := cur
		next.Discovery, next.Peers, next.UpdatedBy = d, peers, "test"
		saved, err := m.Store.UpdateConfig(ctx, next, cur.Version)
		if archivist.IsCode(err, archivist.CodeConflict) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return saved
	}
	t.Fatal("config keeps changing")
	return archivist.Config{}
}

// storedDiscovery is the discovery method of node id as its last
// heartbeat in the store says.
func storedDiscovery(t *testing.T, m *Main, id string) archivist.DiscoveryMethod {
	t.Helper()
	nodes, err := m.Store.ListNodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.ID == id {
			return n.Discovery
		}
	}
	return ""
}

// mdnsGoroutines counts the goroutines of mDNS advertising and browsing.
func mdnsGoroutines() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "zeroconf") || strings.Contains(g, "discovery.(*Browser)") ||
			strings.Contains(g, "discovery.(*Advertiser)") {
			n++
		}
	}
	return n
}

// TestDiscoveryFollowsConfig: a node started without --discovery follows
// the cluster's method as it changes: AUTO advertises it (a browser finds
// it) and it reports AUTO; back to REGISTRY it sends a goodbye, stops every
// mDNS goroutine and reports REGISTRY; MANUAL with a peer list without it
// makes it say that it is not admitted, and again when it is.
func TestDiscoveryFollowsConfig(t *testing.T) {
	needLoopbackMDNS(t)
	cluster := fmt.Sprintf("sw%d", rand.IntN(1e9))
	instance := "archivist-" + cluster + "-n1"
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	bye := mdnstest.WatchGoodbyes(t, lo)
	baseline := mdnsGoroutines()
	m, logs := startLoopbackNode(t, cluster, "n1")

	if d := m.describe().Discovery; d != archivist.DiscoveryRegistry {
		t.Fatalf("a node of a REGISTRY cluster reports %s", d)
	}
	if n := mdnsGoroutines(); n != baseline {
		t.Fatalf("%d mDNS goroutines run on REGISTRY, want %d", n, baseline)
	}

	for round := range 2 { // twice: new advertiser and browser each time
		b := mdnstest.Browse(t, cluster, []net.Interface{*lo})
		cfg := setDiscovery(t, m, archivist.DiscoveryAuto)
		testkit.Eventually(t, 2*time.Second, func() bool {
			return storedDiscovery(t, m, "n1") == archivist.DiscoveryAuto
		}, "the node to report AUTO in its heartbeat")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		p, err := b.WaitPeer(ctx, func(p discovery.Peer) bool { return p.NodeID == "n1" })
		cancel()
		if err != nil {
			t.Fatalf("round %d: the node's record is not found by mDNS: %v", round, err)
		}
		if p.Role != archivist.RoleHybrid || p.API != m.Server.Addr() {
			t.Fatalf("advertised record %+v", p)
		}
		if err := b.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if m.Settings().Version != cfg.Version {
			t.Fatalf("node runs config v%d, want v%d", m.Settings().Version, cfg.Version)
		}

		bye.Reset()
		setDiscovery(t, m, archivist.DiscoveryRegistry)
		testkit.Eventually(t, 2*time.Second, func() bool {
			return storedDiscovery(t, m, "n1") == archivist.DiscoveryRegistry
		}, "the node to report REGISTRY in its heartbeat")
		testkit.Eventually(t, 2*time.Second, func() bool { return bye.Seen(instance) }, "%s", "the goodbye of "+instance)
		testkit.Eventually(t, 2*time.Second, func() bool { return mdnsGoroutines() == baseline }, "the mDNS goroutines to end")
	}
	if n := strings.Count(logs.String(), "mDNS: advertisement withdrawn"); n != 2 {
		t.Fatalf("%d withdrawals logged, want 2", n)
	}

	// MANUAL: the peer list leaves this node out, then names it.
	setDiscovery(t, m, archivist.DiscoveryManual, "someone-else")
	testkit.Eventually(t, 2*time.Second, func() bool {
		return storedDiscovery(t, m, "n1") == archivist.DiscoveryManual
	}, "the node to report MANUAL")
	testkit.Eventually(t, time.Second, func() bool {
		return strings.Contains(logs.String(), "this node is NOT admitted")
	}, "the node to say it is not admitted")
	setDiscovery(t, m, archivist.DiscoveryManual, "someone-else", m.Server.Addr())
	testkit.Eventually(t, time.Second, func() bool {
		return strings.Contains(logs.String(), "admitted to the cluster again")
	}, "the node to say it is admitted again")
	if n := strings.Count(logs.String(), "this node is NOT admitted"); n != 1 {
		t.Fatalf("said %d times that it is not admitted, want once", n)
	}
	if n := mdnsGoroutines(); n != baseline {
		t.Fatalf("%d mDNS goroutines run on MANUAL, want %d", n, baseline)
	}
}

// TestDiscoverySwitchRace: config changes in quick succession, and Close
// while they still arrive, leave the node in the last method asked with
// one advertiser and one browser, then with no mDNS goroutine at all.
func TestDiscoverySwitchRace(t *testing.T) {
	needLoopbackMDNS(t)
	cluster := fmt.Sprintf("race%d", rand.IntN(1e9))
	baseline := mdnsGoroutines()
	m, _ := startLoopbackNode(t, cluster, "r1")

	methods := []archivist.DiscoveryMethod{archivist.DiscoveryAuto, archivist.DiscoveryRegistry, archivist.DiscoveryManual}
	for i := range 30 {
		setDiscovery(t, m, methods[i%len(methods)])
	}
	last := setDiscovery(t, m, archivist.DiscoveryAuto)
	// The last version applied, not an AUTO of the way: a heartbeat of an
	// earlier one may say AUTO too.
	testkit.Eventually(t, 5*time.Second, func() bool {
		return m.Settings().Version == last.Version && m.describe().Discovery == archivist.DiscoveryAuto &&
			storedDiscovery(t, m, "r1") == archivist.DiscoveryAuto
	}, "the node to settle on AUTO")
	count := func(frame string) int {
		buf := make([]byte, 1<<22)
		return strings.Count(string(buf[:runtime.Stack(buf, true)]), frame)
	}
	// Eventually: a loop's goroutine, started by its lifecycle.Base, names
	// the loop in its stack only once it was scheduled.
	testkit.Eventually(t, 2*time.Second, func() bool {
		return count("discovery.(*Advertiser).loop") == 1 && count("discovery.(*Browser).loop") == 1
	}, "one advertiser and one browser loop")

	stop := make(chan struct{})
	done := make(chan struct{})
	some := make(chan struct{}) // closed after a few changes
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			if i == 10 {
				close(some)
			}
			select {
			case <-stop:
				return
			default:
			}
			cur, err := m.Store.Config(context.Background())
			if err != nil {
				return // the store is closed
			}
			cur.Discovery = methods[i%2]
			if _, err := m.Store.UpdateConfig(context.Background(), cur, cur.Version); err != nil &&
				!archivist.IsCode(err, archivist.CodeConflict) {
				return
			}
		}
	}()
	select {
	case <-some:
	case <-done:
		t.Fatal("the config changes stopped before Close")
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}
	close(stop)
	<-done
	testkit.Eventually(t, 2*time.Second, func() bool { return mdnsGoroutines() == baseline }, "every mDNS goroutine to end")
}

// TestWantsMDNS: --discovery decides for the node until the cluster's
// method changes after the start; then the cluster's method does.
func TestWantsMDNS(t *testing.T) {
	t.Parallel()
	cfg := func(d archivist.DiscoveryMethod) archivist.Config { return archivist.Config{Discovery: d} }
	for _, c := range []struct {
		args   []string
		follow bool
		cfg    archivist.DiscoveryMethod
		want   bool
	}{
		{nil, false, archivist.DiscoveryAuto, true},
		{nil, false, archivist.DiscoveryRegistry, false},
		{[]string{"--discovery", "auto"}, false, archivist.DiscoveryRegistry, true},
		{[]string{"--discovery", "auto"}, true, archivist.DiscoveryRegistry, false},
		{[]string{"--discovery", "registry"}, false, archivist.DiscoveryAuto, false},
		{[]string{"--discovery", "registry"}, true, archivist.DiscoveryAuto, true},
		{[]string{"--discovery", "manual"}, true, archivist.DiscoveryManual, false},
	} {
		o, err := parseServe(c.args, env(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		m := &Main{Opts: o}
		m.mdns.follow = c.follow
		if got := m.wantsMDNS(cfg(c.cfg)); got != c.want {
			t.Errorf("%v, follow %v, cluster %s: wants mDNS %v, want %v", c.args, c.follow, c.cfg, got, c.want)
		}
	}
}

// TestDiscoveryAutoWithoutMDNS: on a node where mDNS cannot run (its
// --mdns-interface does not exist), AUTO is said once in a warning and the
// node reports REGISTRY, what it really runs; a later config change that
// keeps AUTO does not repeat it; the next switch to AUTO tries again.
func TestDiscoveryAutoWithoutMDNS(t *testing.T) {
	t.Parallel()
	m, logs := startLoopbackNode(t, fmt.Sprintf("nomdns%d", rand.IntN(1e9)), "x1", "--mdns-interface", "nosuch0")
	const warning = "mDNS cannot run on this node"
	warnings := func() int { return strings.Count(logs.String(), warning) }

	cfg := setDiscovery(t, m, archivist.DiscoveryAuto)
	testkit.Eventually(t, 2*time.Second, func() bool { return warnings() == 1 }, "the warning")
	testkit.Eventually(t, 2*time.Second, func() bool {
		return m.Settings().Version == cfg.Version && storedDiscovery(t, m, "x1") == archivist.DiscoveryRegistry
	}, "the heartbeat of the AUTO config")
	if !strings.Contains(logs.String(), `mDNS interface \"nosuch0\"`) {
		t.Fatalf("the warning does not say why:\n%s", logs.String())
	}

	cfg = setDiscovery(t, m, archivist.DiscoveryAuto, "x1") // another version, still AUTO
	testkit.Eventually(t, 2*time.Second, func() bool { return m.Settings().Version == cfg.Version }, "the next config to apply")
	if warnings() != 1 {
		t.Fatalf("warned %d times for one switch to AUTO:\n%s", warnings(), logs.String())
	}
	setDiscovery(t, m, archivist.DiscoveryRegistry)
	setDiscovery(t, m, archivist.DiscoveryAuto)
	testkit.Eventually(t, 2*time.Second, func() bool { return warnings() == 2 }, "the second warning")
	if d := m.describe().Discovery; d != archivist.DiscoveryRegistry {
		t.Fatalf("reports %s without mDNS", d)
	}
}

// TestDiscoveryRecordFollowsNodeSettings: a node that advertises itself by
// mDNS and is given a new role and capabilities through updateNode
// advertises a record that carries them, without a restart.
func TestDiscoveryRecordFollowsNodeSettings(t *testing.T) {
	needLoopbackMDNS(t)
	cluster := fmt.Sprintf("ns%d", rand.IntN(1e9))
	m, _ := startLoopbackNode(t, cluster, "n1")
	setDiscovery(t, m, archivist.DiscoveryAuto)
	testkit.Eventually(t, 2*time.Second, func() bool {
		return storedDiscovery(t, m, "n1") == archivist.DiscoveryAuto
	}, "the node to report AUTO in its heartbeat")

	ifaces, _ := discovery.MulticastInterfaces([]string{"lo"})
	find := func(what string, match func(discovery.Peer) bool) discovery.Peer {
		t.Helper()
		b := mdnstest.Browse(t, cluster, ifaces)
		defer func() { _ = b.Stop(context.Background()) }()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p, err := b.WaitPeer(ctx, func(p discovery.Peer) bool { return p.NodeID == "n1" && match(p) })
		if err != nil {
			t.Fatalf("no record of n1 with %s: %v (last seen: %+v)", what, err, b.Peers())
		}
		return p
	}
	find("role HYBRID", func(p discovery.Peer) bool { return p.Role == archivist.RoleHybrid })

	if _, err := m.Store.SetNodeSettings(t.Context(), "n1", archivist.NodeSettings{
		Role: archivist.RoleWorker, Capabilities: []string{"text.*"}}); err != nil {
		t.Fatal(err)
	}
	p := find("role WORKER and capabilities [text.*]", func(p discovery.Peer) bool {
		return p.Role == archivist.RoleWorker && slices.Equal(p.Capabilities, []string{"text.*"})
	})
	if p.API != m.Server.Addr() {
		t.Fatalf("re-advertised record %+v, want API %s", p, m.Server.Addr())
	}
	if d := storedDiscovery(t, m, "n1"); d != archivist.DiscoveryAuto {
		t.Fatalf("after the new record the node reports %s, want AUTO", d)
	}
}
