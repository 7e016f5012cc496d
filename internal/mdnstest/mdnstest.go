// Package mdnstest holds what the tests of a node's mDNS discovery share,
// in this process (app) and across network namespaces (cmd/archivist): a
// listener for the goodbyes a node sends when it withdraws its record, and
// a browser run from the test. It is imported by tests only.
package mdnstest

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/rpg-archivist/archivist/discovery"
)

// Goodbyes records the instances of the archivist service withdrawn on an
// interface: a PTR answer of the service with TTL 0.
type Goodbyes struct {
	mu   sync.Mutex
	seen map[string]bool
}

// WatchGoodbyes listens to the mDNS traffic on ifi until the test ends.
func WatchGoodbyes(t testing.TB, ifi *net.Interface) *Goodbyes {
	t.Helper()
	c, err := net.ListenMulticastUDP("udp4", ifi, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353})
	if err != nil {
		t.Fatalf("listen for mDNS on %s: %v", ifi.Name, err)
	}
	g := &Goodbyes{seen: map[string]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 9000)
		for {
			n, _, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			var msg dns.Msg
			if msg.Unpack(buf[:n]) != nil || !msg.Response {
				continue
			}
			for _, rr := range msg.Answer {
				if ptr, ok := rr.(*dns.PTR); ok && ptr.Hdr.Ttl == 0 && strings.HasPrefix(ptr.Hdr.Name, discovery.MDNSService+".") {
					g.mu.Lock()
					g.seen[strings.SplitN(ptr.Ptr, ".", 2)[0]] = true
					g.mu.Unlock()
				}
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return g
}

// Seen reports whether instance ("archivist-<cluster>-<node>") was
// withdrawn since the start or the last Reset.
func (g *Goodbyes) Seen(instance string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.seen[instance]
}

// Reset forgets the goodbyes seen so far.
func (g *Goodbyes) Reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	clear(g.seen)
}

// Browse starts an mDNS browser of cluster on ifaces (IPv4, a browse round
// every 500ms), stopped when the test ends if it was not before.
func Browse(t testing.TB, cluster string, ifaces []net.Interface) *discovery.Browser {
	t.Helper()
	b := discovery.NewBrowser(discovery.BrowserConfig{Cluster: cluster, Self: "the-test", Interfaces: ifaces,
		IPTypes: discovery.IPv4, Refresh: 500 * time.Millisecond})
	if err := b.Start(context.Background()); err != nil {
		t.Fatalf("browse for cluster %s: %v", cluster, err)
	}
	t.Cleanup(func() { _ = b.Stop(context.Background()) })
	return b
}
