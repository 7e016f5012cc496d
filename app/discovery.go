package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/cli"
	"github.com/rpg-archivist/archivist/discovery"
	"github.com/rpg-archivist/archivist/lifecycle"
	"github.com/rpg-archivist/archivist/store"
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

// mdnsRun is the mDNS discovery a node runs, the last step of Main's list
// and the first it stops: started once the API listens (the record carries
// its port), it is switched on and off as the cluster's discovery method
// changes, and stopping it withdraws the record (an mDNS goodbye) before
// the node leaves. mu orders every switch: config changes arrive on the
// watch goroutine while Run may still be starting, and Close may run at
// any time. The advertiser and browser are not restarted: each switch to
// AUTO makes new ones.
type mdnsRun struct {
	lifecycle.Base
	m   *Main
	mu  sync.Mutex
	adv *discovery.Advertiser
	br  *discovery.Browser
	// on is set while the node advertises itself: it reports AUTO.
	on atomic.Bool
	// atStart is the cluster configuration the node started with (Run).
	atStart archivist.Config
	// serving: the run is under way, so config changes switch mDNS. Before,
	// the last one is kept in pending and applied by the start.
	serving bool
	pending *archivist.Config
	// seen is the cluster's discovery method last applied; follow is set
	// once it changed after the start: from then on the cluster's method
	// decides, not --discovery.
	seen   archivist.DiscoveryMethod
	follow bool
	// want: mDNS was last asked to run (it runs, or failed and said so).
	want bool
	// excluded: this node is outside the MANUAL peer list (logged once).
	excluded bool
}

// Start advertises this node, and browses, when it takes part in mDNS
// discovery (startMDNS), and follows the cluster's method until Stop,
// which withdraws the record and stops browsing. A node asked for
// --discovery auto does not start if mDNS cannot run.
func (d *mdnsRun) Start(ctx context.Context) error {
	return d.Base.Start(ctx, d.m.startMDNS, func(ctx context.Context) {
		<-ctx.Done()
		d.m.endMDNS(context.WithoutCancel(ctx))
	})
}

// wantsMDNS (m.mdns.mu held) reports whether this node takes part in mDNS
// discovery: as --discovery says when it was given and the cluster's method
// has not changed since the start; else as the cluster's configuration says.
func (m *Main) wantsMDNS(cfg archivist.Config) bool {
	if m.Opts.set["discovery"] && !m.mdns.follow {
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
	case m.mdns.on.Load():
		return archivist.DiscoveryAuto
	case cfg.Discovery == archivist.DiscoveryAuto:
		return archivist.DiscoveryRegistry
	}
	return cfg.Discovery
}

func (m *Main) mdnsInterfaces() ([]net.Interface, error) {
	return discovery.MulticastInterfaces(cli.SplitList(m.Opts.MDNSInterface))
}

// startBrowser (m.mdns.mu held) starts browsing, unless it runs already.
func (m *Main) startBrowser(ctx context.Context) (*discovery.Browser, error) {
	if m.mdns.br != nil {
		return m.mdns.br, nil
	}
	ifaces, err := m.mdnsInterfaces()
	if err != nil {
		return nil, err
	}
	b := discovery.NewBrowser(discovery.BrowserConfig{
		Cluster: m.Opts.Cluster, Self: m.nodeID, Secret: []byte(m.Opts.ClusterSecret),
		Interfaces: ifaces, Refresh: mdnsRefresh(m.Opts), Env: m.env,
	})
	if err := b.Start(ctx); err != nil {
		return nil, fmt.Errorf("mDNS discovery: %w", err)
	}
	m.mdns.br = b
	return b, nil
}

// mdnsRefresh: a browse round lasts a third of the TTL, so a live peer is
// seen again about three times before its record would expire.
func mdnsRefresh(o *Options) time.Duration { return max(o.MDNSTTL/3, 500*time.Millisecond) }

// joinByMDNS is Run's first step. A node that is to find its store by mDNS
// (zeroConfig) finds, within --join-timeout, a peer of this cluster that
// advertises a shared store, and sets the store to it with this node's own
// credentials (--store-password). When none is found the node stops, unless
// --standalone-fallback lets it run alone on the embedded store. The
// browser goes on: the mDNS step runs it. When the node stops here, this
// step did not start, so it stops the browser itself.
func (m *Main) joinByMDNS(ctx context.Context) (err error) {
	if !m.zeroConfig() {
		return nil
	}
	defer func() {
		if err != nil {
			_ = m.stopJoinBrowser(context.WithoutCancel(ctx))
		}
	}()
	o := m.Opts
	m.mdns.mu.Lock()
	browser, err := m.startBrowser(ctx)
	m.mdns.mu.Unlock()
	if err != nil {
		return err
	}
	m.Logger.Info("mDNS: looking for a node of this cluster that advertises a shared store",
		"cluster", o.Cluster, "timeout", o.JoinTimeout, "signed_only", o.ClusterSecret != "")
	wctx, cancel := context.WithTimeout(ctx, o.JoinTimeout)
	defer cancel()
	p, err := browser.WaitPeer(wctx, func(p discovery.Peer) bool { return joinable(p) == nil })
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var seen []string
		for _, p := range browser.Peers() {
			seen = append(seen, fmt.Sprintf("%s: %v", p.NodeID, joinable(p)))
		}
		why := "no node of the cluster answered"
		if len(seen) > 0 {
			why = "nodes found, none joinable: " + strings.Join(seen, "; ")
		}
		if n := browser.Rejected(); n > 0 {
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
	if !store.IsRedisURL(p.Store) {
		return fmt.Errorf("its store %s is not one this node can open", p.Store)
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
	hosts := store.RedisURLHosts(endpoint)
	if len(hosts) == 0 {
		return false
	}
	for _, host := range hosts {
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return false
		}
	}
	return true
}

// stopJoinBrowser stops the browser joinByMDNS started when the node did
// not get as far as the mDNS step (which stops it otherwise).
func (m *Main) stopJoinBrowser(ctx context.Context) error {
	d := &m.mdns
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.serving || d.br == nil {
		return nil
	}
	err := d.br.Stop(ctx)
	d.br = nil
	return err
}

// startMDNS starts mDNS as the configuration wants, applying a change
// that arrived while the node was starting. A node asked for --discovery
// auto stops if mDNS cannot run; one that follows the cluster's
// configuration says so and goes on without.
func (m *Main) startMDNS(ctx context.Context) error {
	d := &m.mdns
	d.mu.Lock()
	defer d.mu.Unlock()
	cfg := d.atStart
	d.serving, d.seen = true, cfg.Discovery
	if p := d.pending; p != nil && p.Version > cfg.Version {
		cfg = *p
		d.follow = d.follow || cfg.Discovery != d.seen
		d.seen = cfg.Discovery
	}
	d.pending = nil
	m.checkAdmitted(cfg)
	if err := m.switchMDNS(ctx, cfg, true); err != nil {
		d.serving, d.want = false, false
		return err
	}
	return nil
}

// applyDiscovery makes a new cluster configuration's discovery method take
// effect on this node: AUTO starts advertising and browsing, leaving AUTO
// withdraws the record (an mDNS goodbye) and stops browsing, and under
// MANUAL a node outside the peer list says that it gets no tasks (the
// leader enforces the list: scheduler.available). Once the method changes
// after the start, it wins over --discovery. Called for every config
// version, in order, from the config watch.
func (m *Main) applyDiscovery(ctx context.Context, cfg archivist.Config) {
	d := &m.mdns
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.serving {
		d.pending = &cfg
		return
	}
	if cfg.Discovery != d.seen {
		m.Logger.Info("the cluster's discovery method changed", "from", d.seen, "to", cfg.Discovery, "config_version", cfg.Version)
		d.follow, d.seen = true, cfg.Discovery
	}
	m.checkAdmitted(cfg)
	_ = m.switchMDNS(ctx, cfg, false) // at run time a failure is logged, never fatal
}

// switchMDNS (m.mdns.mu held) starts or stops mDNS discovery as cfg and
// the options want. A start that fails is said once, with what the node
// runs instead, and is not retried until the method changes again. At the
// start, it is fatal to a node that was asked for --discovery auto.
func (m *Main) switchMDNS(ctx context.Context, cfg archivist.Config, atStart bool) error {
	d := &m.mdns
	if !m.wantsMDNS(cfg) {
		d.want = false
		if d.adv == nil && d.br == nil {
			return nil
		}
		err := m.stopMDNSLocked(ctx)
		m.Logger.Info("mDNS discovery stopped: the record is withdrawn and browsing ends", "discovery", m.discoveryMethod(cfg))
		m.kick()
		return err
	}
	if d.want {
		return nil // runs, or could not and said so
	}
	d.want = true
	err := m.advertise(ctx)
	if err == nil {
		return nil
	}
	_ = m.stopMDNSLocked(ctx)
	if atStart && m.Opts.set["discovery"] && !d.follow {
		return err
	}
	m.Logger.Warn("mDNS cannot run on this node: it keeps the store as its registry and reports REGISTRY while the cluster's discovery is AUTO; check --mdns-interface",
		"err", err)
	m.kick()
	return nil
}

// checkAdmitted (m.mdns.mu held) logs when this node leaves or rejoins
// the cluster's MANUAL peer list: outside it, it gets no tasks.
func (m *Main) checkAdmitted(cfg archivist.Config) {
	self := &archivist.Node{ID: m.nodeID, Address: m.apiAddr()}
	if cfg.Admits(self) {
		if m.mdns.excluded {
			m.Logger.Info("this node is admitted to the cluster again: it gets tasks", "discovery", cfg.Discovery, "config_version", cfg.Version)
		}
		m.mdns.excluded = false
		return
	}
	if !m.mdns.excluded {
		m.Logger.Warn("this node is NOT admitted: the cluster's discovery is MANUAL and its peer list names neither this node's id nor its address; it gets no tasks until it is added (updateConfig(input: {peers: [...]}))",
			"node_id", self.ID, "address", self.Address, "peers", cfg.Peers, "config_version", cfg.Version)
	}
	m.mdns.excluded = true
}

// apiAddr is the address the node's API listens on, as its heartbeat
// reports it.
func (m *Main) apiAddr() string {
	m.mu.Lock()
	srv := m.Server
	m.mu.Unlock()
	if srv != nil {
		return srv.Addr()
	}
	return m.Opts.HTTP
}

func (m *Main) kick() {
	if m.Heartbeat != nil {
		m.Heartbeat.Kick()
	}
}

// advertise (m.mdns.mu held) browses and advertises this node.
func (m *Main) advertise(ctx context.Context) error {
	if _, err := m.startBrowser(ctx); err != nil {
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
		Capabilities: m.nodeCapabilities(), Store: store.RedisEndpoint(m.Opts.Store),
	}
	if rec.Store != "" && loopbackStore(rec.Store) {
		m.Logger.Warn("mDNS: the store endpoint advertised is a loopback address: only nodes on this machine can join through it; give --store an address the other machines reach",
			"store", rec.Store)
	}
	adv := discovery.NewAdvertiser(discovery.AdvertiserConfig{
		Record: rec, Port: port, Interfaces: ifaces, Secret: []byte(m.Opts.ClusterSecret),
		TTL: m.Opts.MDNSTTL, Refresh: discovery.DefaultMDNSMaxAge / 4, Env: m.env,
	})
	if err := adv.Start(ctx); err != nil {
		return err
	}
	m.mdns.adv = adv
	m.mdns.on.Store(true)
	m.kick() // the node now reports discovery AUTO
	return nil
}

// refreshRecord advertises this node's record anew after its role or
// capabilities changed (updateNode), so that peers browsing by mDNS see the
// new values: the old record is withdrawn and a new one announced; browsing
// goes on. Nothing happens while the node does not advertise.
func (m *Main) refreshRecord(ctx context.Context) {
	d := &m.mdns
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.serving || d.adv == nil {
		return
	}
	if err := d.adv.Stop(ctx); err != nil {
		m.Logger.Warn("mDNS: withdrawing the old record", "err", err)
	}
	d.adv = nil
	d.on.Store(false)
	if err := m.advertise(ctx); err != nil {
		m.Logger.Warn("mDNS: could not advertise this node's new settings; it reports REGISTRY until the discovery method changes again", "err", err)
		_ = m.stopMDNSLocked(ctx)
		m.kick()
	}
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

// endMDNS ends the mDNS step's run: it withdraws the advertisement and
// stops browsing; config changes from now on are only kept (pending).
func (m *Main) endMDNS(ctx context.Context) {
	d := &m.mdns
	d.mu.Lock()
	defer d.mu.Unlock()
	d.serving, d.want = false, false
	if err := m.stopMDNSLocked(ctx); err != nil {
		m.Logger.Warn("mDNS: stopping", "err", err)
	}
}

// stopMDNSLocked (m.mdns.mu held) withdraws the record first (a goodbye
// with TTL 0, sent by Advertiser.Stop), then stops browsing, and waits for
// their goroutines.
func (m *Main) stopMDNSLocked(ctx context.Context) error {
	d := &m.mdns
	d.on.Store(false)
	var errs []error
	if d.adv != nil {
		errs = append(errs, d.adv.Stop(ctx))
		d.adv = nil
	}
	if d.br != nil {
		errs = append(errs, d.br.Stop(ctx))
		d.br = nil
	}
	return errors.Join(errs...)
}
