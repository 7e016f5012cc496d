package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/zeroconf/v2"

	"github.com/rpg-archivist/archivist/lifecycle"
)

// DefaultBrowserRefresh is how long one browse round lasts by default: a
// live peer is seen again about three times before its record would
// expire.
const DefaultBrowserRefresh = DefaultMDNSTTL / 3

// BrowserConfig configures a Browser. Zero values mean the defaults.
type BrowserConfig struct {
	// Cluster is this node's cluster: records of other clusters are
	// ignored.
	Cluster string
	// Self is this node's id: its own record is not a peer.
	Self string
	// Secret, when set, admits only records signed with it whose timestamp
	// is within MaxAge of now; the others are rejected and logged.
	Secret []byte
	// MaxAge of a signed record's timestamp (default DefaultMDNSMaxAge).
	MaxAge time.Duration
	// Interfaces to browse on (default: MulticastInterfaces(nil)).
	Interfaces []net.Interface
	// IPTypes to browse on (default: those of IPv4AndIPv6 that work on
	// Interfaces).
	IPTypes IPType
	// Refresh is how long one browse round lasts (default
	// DefaultBrowserRefresh). The library reports a record once until it
	// expires, so each round starts afresh and queries again: live peers
	// are seen again, and their expiry pushed back, at least once a round.
	Refresh time.Duration
	// Env is where the browser logs, and its clock (records' expiry and
	// age).
	Env lifecycle.Env
}

// Peer is a node found by mDNS, with a record that passed the checks.
type Peer struct {
	Record
	// Instance is the DNS-SD instance name; Host, Port and Addrs come from
	// its SRV, A and AAAA records.
	Instance string
	Host     string
	Port     int
	Addrs    []net.IP
	// FirstSeen and LastSeen are when the record was first and last
	// received; Expires is when it runs out unless seen again.
	FirstSeen time.Time
	LastSeen  time.Time
	Expires   time.Time
}

// Browser browses continuously for the records of MDNSService and keeps
// the set of discovered peers of its cluster, each until its record
// expires. It finds peers only: whether a node is alive is for heartbeats.
// Its lifecycle.Base gives it the Started and Stopped signals; it can be
// started again after Stop, and keeps its peers meanwhile.
type Browser struct {
	lifecycle.Base
	cfg BrowserConfig

	mu      sync.Mutex
	peers   map[string]*Peer // by instance name
	changed chan struct{}    // closed and replaced at every change
	noted   map[string]time.Time
	// rejected counts the records rejected.
	rejected atomic.Int64
}

// NewBrowser returns a stopped browser.
func NewBrowser(cfg BrowserConfig) *Browser {
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMDNSMaxAge
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultBrowserRefresh
	}
	cfg.Env = cfg.Env.WithDefaults()
	return &Browser{cfg: cfg, peers: map[string]*Peer{}, changed: make(chan struct{}), noted: map[string]time.Time{}}
}

// Start begins browsing, until Stop. It fails when no interface can join
// the mDNS group. Idempotent; a stopped browser starts again.
func (b *Browser) Start(ctx context.Context) error {
	return b.Base.Start(ctx, b.prepare, b.loop)
}

// prepare fills in the interfaces and IP versions to browse on, and checks
// that mDNS works on them.
func (b *Browser) prepare(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.cfg.Interfaces) == 0 {
		ifaces, err := MulticastInterfaces(nil)
		if err != nil {
			return err
		}
		b.cfg.Interfaces = ifaces
	}
	want := b.cfg.IPTypes
	if want == 0 {
		want = IPv4AndIPv6
	}
	got, err := UsableIPTypes(b.cfg.Interfaces, want)
	if err != nil {
		return err
	}
	if got != want && b.cfg.IPTypes != 0 {
		b.cfg.Env.Logger.Warn("mDNS: browsing on fewer IP versions than asked", "asked", want.String(), "usable", got.String())
	}
	b.cfg.IPTypes = got
	b.cfg.Env.Logger.Info("mDNS: browsing for peers", "service", MDNSService, "cluster", b.cfg.Cluster,
		"interfaces", interfaceNames(b.cfg.Interfaces), "ip", got.String(), "signed_only", len(b.cfg.Secret) > 0)
	return nil
}

// Stop ends browsing and waits for its goroutines, within ctx. Idempotent.
func (b *Browser) Stop(ctx context.Context) error {
	return b.Base.Stop(ctx)
}

// Peers returns the discovered peers whose records have not expired,
// ordered by node id.
func (b *Browser) Peers() []Peer {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.cfg.Env.Now()
	out := make([]Peer, 0, len(b.peers))
	for _, p := range b.peers {
		if p.Expires.After(now) {
			out = append(out, clonePeer(p))
		}
	}
	slices.SortFunc(out, func(a, b Peer) int { return strings.Compare(a.NodeID, b.NodeID) })
	return out
}

// Rejected is how many records were rejected so far (unreadable, or
// failing the secret check).
func (b *Browser) Rejected() int64 { return b.rejected.Load() }

// WaitPeer waits until a discovered peer satisfies match and returns it,
// or returns ctx's error.
func (b *Browser) WaitPeer(ctx context.Context, match func(Peer) bool) (Peer, error) {
	for {
		// Taken before looking, so that a change while we look wakes us.
		b.mu.Lock()
		ch := b.changed
		b.mu.Unlock()
		for _, p := range b.Peers() {
			if match(p) {
				return p, nil
			}
		}
		select {
		case <-ctx.Done():
			return Peer{}, ctx.Err()
		case <-ch:
		}
	}
}

func clonePeer(p *Peer) Peer {
	c := *p
	c.Addrs = slices.Clone(p.Addrs)
	c.Capabilities = slices.Clone(p.Capabilities)
	c.Extra = slices.Clone(p.Extra)
	return c
}

// notify (b.mu held) wakes the waiters.
func (b *Browser) notify() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// loop runs browse rounds until ctx ends, and removes peers whose records
// expire in between.
func (b *Browser) loop(ctx context.Context) {
	failing := false
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, b.cfg.Refresh)
		err := b.round(rctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			if !failing {
				b.cfg.Env.Logger.Error("mDNS: browsing failed; retrying each round", "err", err)
			}
			failing = true
			select {
			case <-ctx.Done():
			case <-time.After(b.cfg.Refresh):
			}
			continue
		}
		if failing && err == nil {
			b.cfg.Env.Logger.Info("mDNS: browsing works again")
			failing = false
		}
	}
}

// round is one browse: a fresh query, then the answers and announcements
// that arrive until ctx ends.
func (b *Browser) round(ctx context.Context) error {
	entries := make(chan *zeroconf.ServiceEntry)
	returned := make(chan error, 1)
	opts := []zeroconf.ClientOption{zeroconf.SelectIfaces(b.cfg.Interfaces)}
	switch b.cfg.IPTypes {
	case IPv4:
		opts = append(opts, zeroconf.SelectIPTraffic(zeroconf.IPv4))
	case IPv6:
		opts = append(opts, zeroconf.SelectIPTraffic(zeroconf.IPv6))
	}
	go func() { returned <- zeroconf.Browse(ctx, MDNSService, MDNSDomain, entries, opts...) }()
	expiry := time.NewTimer(b.untilNextExpiry())
	defer expiry.Stop()
	for {
		select {
		case e, ok := <-entries:
			if !ok {
				entries = nil // closed when the round ends; Browse returns next
				continue
			}
			b.handle(e)
		case err := <-returned:
			// Browse has returned: it sends nothing more.
			return err
		case <-expiry.C:
		}
		b.expire()
		expiry.Reset(b.untilNextExpiry())
	}
}

func (b *Browser) untilNextExpiry() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	next := b.cfg.Refresh
	now := b.cfg.Env.Now()
	for _, p := range b.peers {
		next = min(next, p.Expires.Sub(now))
	}
	return max(next, 10*time.Millisecond)
}

// expire removes the peers whose records ran out.
func (b *Browser) expire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.cfg.Env.Now()
	changed := false
	for k, p := range b.peers {
		if !p.Expires.After(now) {
			delete(b.peers, k)
			changed = true
			b.cfg.Env.Logger.Info("mDNS: peer gone (its record expired)", "peer", p.NodeID, "instance", p.Instance)
		}
	}
	if changed {
		b.notify()
	}
}

// handle checks a record received and admits, refreshes or rejects it.
func (b *Browser) handle(e *zeroconf.ServiceEntry) {
	now := b.cfg.Env.Now()
	addrs := append(slices.Clone(e.AddrIPv4), e.AddrIPv6...)
	rec, err := ParseTXT(e.Text)
	if err != nil {
		b.reject(e.Instance, addrs, "unreadable TXT record", err)
		return
	}
	if rec.NodeID == b.cfg.Self && rec.Cluster == b.cfg.Cluster {
		return
	}
	if rec.Cluster != b.cfg.Cluster {
		b.note(e.Instance+"\x00cluster", 10*time.Minute, slog.LevelInfo, "mDNS: ignoring a node of another cluster",
			"peer", rec.NodeID, "cluster", rec.Cluster, "instance", e.Instance)
		return
	}
	if len(b.cfg.Secret) > 0 {
		if err := rec.Verify(b.cfg.Secret, now, b.cfg.MaxAge); err != nil {
			b.reject(e.Instance, addrs, "record fails the cluster secret check", err)
			return
		}
	}
	expires := e.Expiry
	if !expires.After(now) {
		return // a goodbye
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	p, known := b.peers[e.Instance]
	if !known {
		p = &Peer{Instance: e.Instance, FirstSeen: now}
		b.peers[e.Instance] = p
	}
	changed := !known || p.Store != rec.Store || p.API != rec.API || p.Role != rec.Role
	p.Record, p.Host, p.Port, p.Addrs = rec, e.HostName, e.Port, addrs
	p.LastSeen, p.Expires = now, expires
	if !known {
		b.cfg.Env.Logger.Info("mDNS: peer found", "peer", rec.NodeID, "role", rec.Role, "api", rec.API,
			"store", rec.Store, "addrs", addrs, "instance", e.Instance, "signed", rec.Signed())
	}
	if changed {
		b.notify()
	}
}

// reject logs a record that is not admitted (once a minute per instance
// and reason), and forgets a peer that had been admitted under that name.
func (b *Browser) reject(instance string, addrs []net.IP, why string, err error) {
	b.mu.Lock()
	if _, ok := b.peers[instance]; ok {
		delete(b.peers, instance)
		b.notify()
	}
	b.mu.Unlock()
	b.rejected.Add(1)
	key := err.Error()
	for _, e := range []error{ErrUnsigned, ErrBadSignature, ErrStale} {
		if errors.Is(err, e) {
			key = e.Error() // not the age, which changes at every look
		}
	}
	b.note(instance+"\x00"+key, time.Minute, slog.LevelWarn, "mDNS: rejected a record: "+why,
		"instance", instance, "addrs", addrs, "reason", err)
}

// note logs a message at most once per every for a key. The keys are
// bounded: a flood of forged names does not grow memory.
func (b *Browser) note(key string, every time.Duration, level slog.Level, msg string, args ...any) {
	now := b.cfg.Env.Now()
	b.mu.Lock()
	last, seen := b.noted[key]
	due := !seen || now.Sub(last) >= every
	if due {
		if len(b.noted) >= 1000 {
			clear(b.noted)
		}
		b.noted[key] = now
	}
	b.mu.Unlock()
	if due {
		b.cfg.Env.Logger.Log(context.Background(), level, msg, args...)
	}
}

// String is for logs.
func (p Peer) String() string {
	return fmt.Sprintf("%s (%s, api %s, store %q)", p.NodeID, p.Instance, p.API, p.Store)
}
