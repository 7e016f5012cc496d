package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/discovery"
)

// mDNS discovery (--discovery auto) on a node: an Advertiser that publishes
// the node (with the store endpoint others join through) and a Browser that
// keeps the peers found. A node started with --discovery auto and no --store
// first browses for a peer of its cluster that advertises a shared store,
// and joins that store.

// zeroConfig reports whether this node is to find its store by mDNS: it was
// asked for --discovery auto and given no --store.
func (m *Main) zeroConfig() bool {
	d, _ := m.Opts.discovery()
	return m.Opts.set["discovery"] && d == archivist.DiscoveryAuto && !m.Opts.set["store"]
}

// wantsMDNS reports whether this node takes part in mDNS discovery: when it
// was given --discovery, as that says; else as the cluster's configuration
// says (read once, at start).
func (m *Main) wantsMDNS(cfg archivist.Config) bool {
	if m.Opts.set["discovery"] {
		d, _ := m.Opts.discovery()
		return d == archivist.DiscoveryAuto
	}
	return cfg.Discovery == archivist.DiscoveryAuto
}

// discoveryMethod is what the node reports as its discovery in heartbeats:
// AUTO while it runs mDNS discovery, otherwise the cluster's method (a node
// that does not run mDNS found its cluster through the store it was given:
// REGISTRY, even if the cluster's config says AUTO).
func (m *Main) discoveryMethod(cfg archivist.Config) archivist.DiscoveryMethod {
	switch {
	case m.mdnsOn.Load():
		return archivist.DiscoveryAuto
	case cfg.Discovery == archivist.DiscoveryAuto:
		return archivist.DiscoveryRegistry
	}
	return cfg.Discovery
}

func (m *Main) mdnsInterfaces() ([]net.Interface, error) {
	return discovery.MulticastInterfaces(splitList(m.Opts.MDNSInterface))
}

// startBrowser starts browsing (once).
func (m *Main) startBrowser(ctx context.Context) error {
	if m.Browser != nil {
		return nil
	}
	ifaces, err := m.mdnsInterfaces()
	if err != nil {
		return err
	}
	b := discovery.NewBrowser(discovery.BrowserConfig{
		Cluster: m.Opts.Cluster, Self: m.nodeID, Secret: []byte(m.Opts.ClusterSecret),
		Interfaces: ifaces, Refresh: mdnsRefresh(m.Opts), Logger: m.Logger,
	})
	if err := b.Start(ctx); err != nil {
		return fmt.Errorf("mDNS discovery: %w", err)
	}
	m.Browser = b
	return nil
}

// mdnsRefresh: a browse round lasts a third of the TTL, so a live peer is
// seen again about three times before its record would expire.
func mdnsRefresh(o *Options) time.Duration { return max(o.MDNSTTL/3, 500*time.Millisecond) }

// joinByMDNS finds, within --join-timeout, a peer of this cluster that
// advertises a shared store, and sets the store to it with this node's own
// credentials (--store-password). When none is found the node stops, unless
// --standalone-fallback lets it run alone on the embedded store.
func (m *Main) joinByMDNS(ctx context.Context) error {
	o := m.Opts
	if err := m.startBrowser(ctx); err != nil {
		return err
	}
	m.Logger.Info("mDNS: looking for a node of this cluster that advertises a shared store",
		"cluster", o.Cluster, "timeout", o.JoinTimeout, "signed_only", o.ClusterSecret != "")
	wctx, cancel := context.WithTimeout(ctx, o.JoinTimeout)
	defer cancel()
	p, err := m.Browser.WaitPeer(wctx, func(p discovery.Peer) bool { return joinable(p) == nil })
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var seen []string
		for _, p := range m.Browser.Peers() {
			seen = append(seen, fmt.Sprintf("%s: %v", p.NodeID, joinable(p)))
		}
		why := "no node of the cluster answered"
		if len(seen) > 0 {
			why = "nodes found, none joinable: " + strings.Join(seen, "; ")
		}
		if n := m.Browser.Rejected(); n > 0 {
			why += fmt.Sprintf("; %d records rejected (see the log): check --cluster-secret", n)
		}
		ifaces, _ := m.mdnsInterfaces()
		names := make([]string, len(ifaces))
		for i, ifi := range ifaces {
			names[i] = ifi.Name
		}
		if o.StandaloneFallback {
			m.Logger.Warn("mDNS: no node of this cluster with a shared store found; running standalone on the embedded store (--standalone-fallback)",
				"cluster", o.Cluster, "waited", o.JoinTimeout, "why", why)
			return nil
		}
		return fmt.Errorf("--discovery auto without --store: no node of cluster %s advertising a shared store was found by mDNS within %s on %s (%s). "+
			"Start the first node with --store redis://HOST:PORT/DB on an address the others reach, check --cluster and --cluster-secret, "+
			"or give --standalone-fallback to run alone on the embedded store", o.Cluster, o.JoinTimeout, strings.Join(names, ","), why)
	}
	o.Store = p.Store
	m.Logger.Info("mDNS: joining the cluster through a node found on the network", "peer", p.NodeID,
		"peer_addrs", p.Addrs, "store", p.Store, "signed", p.Signed())
	return nil
}

// joinable says why a discovered peer's store cannot be joined from here,
// or nil. A store on a loopback address is only reachable from the peer's
// own machine.
func joinable(p discovery.Peer) error {
	if p.Store == "" {
		return errors.New("its store is not shared (embedded or memory)")
	}
	if !loopbackStore(p.Store) {
		return nil
	}
	local, err := net.InterfaceAddrs()
	if err != nil {
		return err
	}
	for _, a := range p.Addrs {
		for _, l := range local {
			if ipn, ok := l.(*net.IPNet); ok && ipn.IP.Equal(a) {
				return nil
			}
		}
	}
	return fmt.Errorf("its store %s is on a loopback address, reachable only from its own machine", p.Store)
}

// loopbackStore reports whether every host of a store endpoint is a
// loopback address or localhost.
func loopbackStore(endpoint string) bool {
	_, rest, _ := strings.Cut(endpoint, "://")
	authority, _, _ := strings.Cut(rest, "/")
	for _, hp := range strings.Split(authority, ",") {
		host, _, err := net.SplitHostPort(hp)
		if err != nil {
			host = hp
		}
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return false
		}
	}
	return true
}

// withStorePassword puts --store-password into a Redis URL that has none,
// so that the password need not be part of --store (or of what a peer
// advertises).
func withStorePassword(storeURL, password string) string {
	if password == "" || !isRedis(storeURL) {
		return storeURL
	}
	scheme, rest, _ := strings.Cut(storeURL, "://")
	authority, tail, hasTail := strings.Cut(rest, "/")
	user := ""
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		userinfo := authority[:at]
		if strings.Contains(userinfo, ":") {
			return storeURL // the URL's own password wins
		}
		user, authority = userinfo, authority[at+1:]
	}
	out := scheme + "://" + user + ":" + escapeUserinfo(password) + "@" + authority
	if hasTail {
		out += "/" + tail
	}
	return out
}

func escapeUserinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// startMDNS advertises this node, and browses, when it takes part in mDNS
// discovery. It runs once the HTTP server listens (the SRV record carries
// its port). A node asked for --discovery auto stops if mDNS cannot run; one
// that follows the cluster's configuration says so and goes on without.
func (m *Main) startMDNS(ctx context.Context, cfg archivist.Config) error {
	if !m.wantsMDNS(cfg) {
		return nil
	}
	err := m.advertise(ctx)
	if err == nil || m.Opts.set["discovery"] {
		return err
	}
	m.Logger.Warn("the cluster's discovery is AUTO but mDNS cannot run on this node; it goes on without (give --discovery to choose)", "err", err)
	return m.stopMDNS(ctx)
}

func (m *Main) advertise(ctx context.Context) error {
	if err := m.startBrowser(ctx); err != nil {
		return err
	}
	ifaces, err := m.mdnsInterfaces()
	if err != nil {
		return err
	}
	api, port, err := m.advertisedAPI(ifaces)
	if err != nil {
		return err
	}
	rec := discovery.Record{
		NodeID: m.nodeID, Cluster: m.Opts.Cluster, Role: m.currentRole(), API: api, Version: Version,
		Capabilities: m.nodeCapabilities(), Store: discovery.StoreEndpoint(m.Opts.Store),
	}
	if rec.Store != "" && loopbackStore(rec.Store) {
		m.Logger.Warn("mDNS: the store endpoint advertised is a loopback address: only nodes on this machine can join through it; give --store an address the other machines reach",
			"store", rec.Store)
	}
	m.Advertiser = discovery.NewAdvertiser(discovery.AdvertiserConfig{
		Record: rec, Port: port, Interfaces: ifaces, Secret: []byte(m.Opts.ClusterSecret),
		TTL: m.Opts.MDNSTTL, Refresh: discovery.DefaultMDNSMaxAge / 4, Logger: m.Logger,
	})
	if err := m.Advertiser.Start(ctx); err != nil {
		return err
	}
	m.mdnsOn.Store(true)
	m.Heartbeat.Kick() // the node now reports discovery AUTO
	return nil
}

// advertisedAPI is the API address peers are told: --advertise-addr, else
// the address the server listens on, with an unspecified host (0.0.0.0,
// ::) replaced by the first address of the mDNS interfaces.
func (m *Main) advertisedAPI(ifaces []net.Interface) (string, int, error) {
	addr := m.Opts.AdvertiseAddr
	if addr == "" {
		addr = m.Server.Addr()
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("--advertise-addr %q: want host:port", addr)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("--advertise-addr %q: bad port", addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		ips := discovery.InterfaceIPs(ifaces, discovery.IPv4AndIPv6)
		if len(ips) == 0 {
			return "", 0, fmt.Errorf("the API listens on %s and the mDNS interfaces have no address to advertise instead; set --advertise-addr", addr)
		}
		host = ips[0].String()
	}
	return net.JoinHostPort(host, portStr), port, nil
}

// stopMDNS withdraws the advertisement and stops browsing.
func (m *Main) stopMDNS(ctx context.Context) error {
	var errs []error
	if m.Advertiser != nil {
		errs = append(errs, m.Advertiser.Stop(ctx))
	}
	if m.Browser != nil {
		errs = append(errs, m.Browser.Stop(ctx))
	}
	return errors.Join(errs...)
}
