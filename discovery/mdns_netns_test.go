//go:build linux

package discovery

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/lifecycle"
)

// TestMDNSIPv6: an advertiser and a browser on IPv6 only find each other
// over real multicast (ff02::fb). The test makes a network namespace with a
// veth pair (both ends inside, link-local addresses only) and runs itself
// again inside it, so that every socket, the browser's included, is there.
// Needs root; skips elsewhere, fails in CI.
func TestMDNSIPv6(t *testing.T) {
	if os.Getenv("ARCHIVIST_MDNS_IPV6_CHILD") != "" {
		ipv6Child(t)
		return
	}
	if testing.Short() {
		t.Skip("network namespace test")
	}
	skip := t.Skipf
	if os.Getenv("CI") != "" {
		skip = t.Fatalf
	}
	if os.Geteuid() != 0 {
		skip("needs root to create a network namespace (run as root, as CI does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skip("needs the ip command (apt-get install iproute2)")
	}
	ns := fmt.Sprintf("archv6-%05x", rand.IntN(1<<20))
	run := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		skip("cannot create a network namespace here (needs CAP_SYS_ADMIN): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	// No duplicate address detection: the link-local addresses are usable
	// at once.
	run("ip", "netns", "exec", ns, "sh", "-c",
		"echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad && echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad")
	run("ip", "-n", ns, "link", "add", "v6a", "type", "veth", "peer", "name", "v6b")
	run("ip", "-n", ns, "link", "set", "v6a", "up")
	run("ip", "-n", ns, "link", "set", "v6b", "up")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestMDNSIPv6$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "ARCHIVIST_MDNS_IPV6_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestMDNSIPv6") {
		t.Fatalf("inside %s: %v\n%s", ns, err, out)
	}
	t.Logf("inside %s:\n%s", ns, out)
}

// ipv6Child runs inside the namespace: advertise on v6a, browse on v6b.
func ipv6Child(t *testing.T) {
	var a, b []net.Interface
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		a, err = MulticastInterfaces([]string{"v6a"})
		if err == nil {
			b, err = MulticastInterfaces([]string{"v6b"})
		}
		if err == nil && len(InterfaceIPs(a, IPv6)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("interfaces v6a, v6b with IPv6 addresses: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := testLogger(t)
	ips := InterfaceIPs(a, IPv6)
	adv := NewAdvertiser(AdvertiserConfig{
		Record: Record{NodeID: "v6", Cluster: "six", Role: archivist.RoleWorker, API: net.JoinHostPort(ips[0].String(), "8080")},
		Port:   8080, Interfaces: a, IPTypes: IPv6, IPs: ips, TTL: 5 * time.Second, Env: lifecycle.Env{Logger: log},
	})
	if err := adv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer adv.Stop(context.Background())
	br := NewBrowser(BrowserConfig{Cluster: "six", Interfaces: b, IPTypes: IPv6, Refresh: time.Second, Env: lifecycle.Env{Logger: log}})
	if err := br.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer br.Stop(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p, err := br.WaitPeer(ctx, func(p Peer) bool { return p.NodeID == "v6" })
	if err != nil {
		t.Fatalf("no peer over IPv6: %v", err)
	}
	if len(p.Addrs) == 0 || p.Addrs[0].To4() != nil {
		t.Fatalf("peer addresses %v, want IPv6", p.Addrs)
	}
	t.Logf("found over IPv6: %s at %v", p, p.Addrs)
}
