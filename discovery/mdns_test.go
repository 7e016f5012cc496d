package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/lifecycle"
)

// These tests advertise and browse on the loopback interface only (named
// explicitly: nothing is sent on any other interface), IPv4, with short
// TTLs. Each uses a cluster name of its own, so tests running at the same
// time on this machine ignore each other.

func loopback(t *testing.T) []net.Interface {
	t.Helper()
	ifaces, err := MulticastInterfaces([]string{"lo"})
	if err != nil {
		t.Skipf("no loopback interface named lo: %v", err)
	}
	if _, err := UsableIPTypes(ifaces, IPv4); err != nil {
		t.Skipf("cannot join the mDNS group on lo: %v", err)
	}
	return ifaces
}

func uniqueCluster(t *testing.T) string {
	return fmt.Sprintf("t%d-%d", time.Now().UnixNano()%1e9, rand.IntN(1e6))
}

func testLogger(t *testing.T) (*slog.Logger, *testkit.Buffer) {
	buf := &testkit.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func advertise(t *testing.T, ifaces []net.Interface, rec Record, mod func(*AdvertiserConfig)) *Advertiser {
	t.Helper()
	log, _ := testLogger(t)
	cfg := AdvertiserConfig{Record: rec, Port: 8080, Interfaces: ifaces, IPTypes: IPv4,
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, TTL: 2 * time.Second, Env: lifecycle.Env{Logger: log}}
	if mod != nil {
		mod(&cfg)
	}
	a := NewAdvertiser(cfg)
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	return a
}

func browse(t *testing.T, ifaces []net.Interface, cluster string, secret []byte) (*Browser, *testkit.Buffer) {
	t.Helper()
	log, buf := testLogger(t)
	b := NewBrowser(BrowserConfig{Cluster: cluster, Self: "self", Secret: secret, MaxAge: 3 * time.Second,
		Interfaces: ifaces, IPTypes: IPv4, Refresh: 500 * time.Millisecond, Env: lifecycle.Env{Logger: log}})
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Stop(context.Background()) })
	return b, buf
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, timeout, cond, "%s", what)
}

func peerIDs(b *Browser) []string {
	var ids []string
	for _, p := range b.Peers() {
		ids = append(ids, p.NodeID)
	}
	return ids
}

func record(cluster, id string) Record {
	return Record{NodeID: id, Cluster: cluster, Role: archivist.RoleHybrid, API: "127.0.0.1:8080",
		Version: "test", Store: "redis://127.0.0.1:6390/0"}
}

// TestMDNSFindsAndLoses: a browser finds the advertised peer of its cluster
// with every field, ignores another cluster's, and loses the peer once it
// stops and its record expires; nothing is left running.
func TestMDNSFindsAndLoses(t *testing.T) {
	ifaces := loopback(t)
	before := runtime.NumGoroutine()
	cluster := uniqueCluster(t)
	b, logs := browse(t, ifaces, cluster, nil)
	a := advertise(t, ifaces, record(cluster, "n1"), nil)
	other := advertise(t, ifaces, record(cluster+"-other", "n2"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := b.WaitPeer(ctx, func(p Peer) bool { return p.NodeID == "n1" })
	if err != nil {
		t.Fatalf("peer n1 not found: %v", err)
	}
	if p.Store != "redis://127.0.0.1:6390/0" || p.API != "127.0.0.1:8080" || p.Port != 8080 ||
		p.Role != archivist.RoleHybrid || p.Instance != a.Instance() || len(p.Addrs) == 0 || !p.Addrs[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("peer %+v", p)
	}
	waitUntil(t, 5*time.Second, "the other cluster's node to be noted", func() bool {
		return strings.Contains(logs.String(), "ignoring a node of another cluster")
	})
	if ids := peerIDs(b); len(ids) != 1 {
		t.Fatalf("peers %v, want only n1", ids)
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Peers hides an expired record at once; the browser's loop logs the
	// departure when its expiry timer fires, a moment later.
	waitUntil(t, 6*time.Second, "n1 to leave the discovered set, and the departure to be logged", func() bool {
		return len(b.Peers()) == 0 && strings.Contains(logs.String(), "peer gone")
	})

	// Stop everything: the goroutines of the library and ours end.
	_ = other.Stop(context.Background())
	_ = b.Stop(context.Background())
	waitUntil(t, 5*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

// TestMDNSSecret: with a cluster secret, only the record signed with it and
// fresh is admitted; an unsigned one, one signed with another secret and a
// stale one are rejected and logged, and the signed peer stays admitted
// across the renewals of its timestamp.
func TestMDNSSecret(t *testing.T) {
	ifaces := loopback(t)
	cluster := uniqueCluster(t)
	secret := []byte("cluster-secret")
	b, logs := browse(t, ifaces, cluster, secret)
	advertise(t, ifaces, record(cluster, "good"), func(c *AdvertiserConfig) {
		c.Secret, c.Refresh, c.TTL = secret, time.Second, 5*time.Second
	})
	advertise(t, ifaces, record(cluster, "unsigned"), nil)
	advertise(t, ifaces, record(cluster, "wrongkey"), func(c *AdvertiserConfig) { c.Secret = []byte("guess") })
	advertise(t, ifaces, record(cluster, "stale"), func(c *AdvertiserConfig) {
		c.Secret = secret
		c.Env.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.WaitPeer(ctx, func(p Peer) bool { return p.NodeID == "good" }); err != nil {
		t.Fatalf("signed peer not found: %v", err)
	}
	for _, want := range []string{ErrUnsigned.Error(), ErrBadSignature.Error(), ErrStale.Error()} {
		waitUntil(t, 5*time.Second, "a rejection: "+want, func() bool { return strings.Contains(logs.String(), want) })
	}
	// Past the max age of the first signature, the peer is still there,
	// with a renewed timestamp.
	time.Sleep(4 * time.Second)
	waitUntil(t, 5*time.Second, "only the signed peer, with a renewed timestamp", func() bool {
		ps := b.Peers()
		return len(ps) == 1 && ps[0].NodeID == "good" && time.Since(ps[0].Timestamp) < 3*time.Second
	})
}

// TestMDNSStartStop: Start is idempotent, and an advertiser and a browser
// stopped are started again: a fresh browser finds the restarted
// advertiser.
func TestMDNSStartStop(t *testing.T) {
	ifaces := loopback(t)
	cluster := uniqueCluster(t)
	a := advertise(t, ifaces, record(cluster, "n1"), nil)
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatalf("advertiser Start again: %v", err)
	}
	if err := a.Stop(ctx); err != nil {
		t.Fatalf("advertiser Stop: %v", err)
	}
	<-a.Stopped()
	if err := a.Start(ctx); err != nil {
		t.Fatalf("advertiser Start after Stop: %v", err)
	}
	testkit.Signal(t, a.Started(), 5*time.Second, "the advertiser to start again")

	b, _ := browse(t, ifaces, cluster, nil)
	if err := b.Start(ctx); err != nil {
		t.Fatalf("browser Start again: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := b.WaitPeer(wctx, func(p Peer) bool { return p.NodeID == "n1" }); err != nil {
		t.Fatalf("the restarted advertiser was not found: %v", err)
	}
	if err := b.Stop(ctx); err != nil {
		t.Fatalf("browser Stop: %v", err)
	}
	if b.Running() {
		t.Fatal("browser running after Stop")
	}
	if err := b.Start(ctx); err != nil {
		t.Fatalf("browser Start after Stop: %v", err)
	}
	if !b.Running() {
		t.Fatal("browser not running after a restart")
	}

	// Stop with a context that ended already returns at once (nil if the
	// run happened to end first), and the part winds down all the same.
	done, cancelDone := context.WithCancel(ctx)
	cancelDone()
	for _, p := range []interface {
		Stop(context.Context) error
		Stopped() <-chan struct{}
	}{a, b} {
		if err := p.Stop(done); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("Stop with an ended context = %v", err)
		}
		testkit.Signal(t, p.Stopped(), 5*time.Second, "the part to wind down after Stop")
	}
}
