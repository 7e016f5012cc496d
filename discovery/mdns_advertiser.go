package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/libp2p/zeroconf/v2"

	"github.com/rpg-archivist/archivist/lifecycle"
)

// DefaultAdvertiserRefresh is how often a signed record gets a new
// timestamp by default: browsers admit it for DefaultMDNSMaxAge, so it is
// renewed several times within that.
const DefaultAdvertiserRefresh = DefaultMDNSMaxAge / 4

// AdvertiserConfig configures an Advertiser. Zero values mean the defaults.
type AdvertiserConfig struct {
	// Record is what the node advertises. With a Secret the advertiser
	// sets its timestamp and signature.
	Record Record
	// Port is the SRV port: the node's HTTP API port. Required.
	Port int
	// Interfaces to advertise on (default: MulticastInterfaces(nil)).
	Interfaces []net.Interface
	// IPTypes are the IP versions to advertise on (default: those of
	// IPv4AndIPv6 that work on Interfaces).
	IPTypes IPType
	// IPs are the addresses of the A and AAAA records (default:
	// InterfaceIPs of Interfaces).
	IPs []net.IP
	// Secret, when set, signs the record (HMAC-SHA256 with a timestamp).
	Secret []byte
	// TTL of the records (default DefaultMDNSTTL; whole seconds).
	TTL time.Duration
	// Refresh is how often a signed record gets a new timestamp (default
	// DefaultAdvertiserRefresh). The library cannot change a TXT record
	// safely while it serves it, so a refresh withdraws the record and
	// advertises the new one.
	Refresh time.Duration
	// Env is where the advertiser logs, and its clock (a signed record's
	// timestamp).
	Env lifecycle.Env
}

// Advertiser publishes this node's record by mDNS, as service MDNSService
// in MDNSDomain with its own instance and host name, and answers queries
// for it until Stop, which withdraws it (a goodbye with TTL 0). Its
// lifecycle.Base gives it the Started and Stopped signals; it can be
// started again after Stop.
type Advertiser struct {
	lifecycle.Base
	cfg AdvertiserConfig

	mu     sync.Mutex
	server *zeroconf.Server
	record Record
}

// NewAdvertiser returns a stopped advertiser.
func NewAdvertiser(cfg AdvertiserConfig) *Advertiser {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultMDNSTTL
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultAdvertiserRefresh
	}
	cfg.Env = cfg.Env.WithDefaults()
	return &Advertiser{cfg: cfg}
}

// Instance is the DNS-SD instance name the node is advertised under.
func (a *Advertiser) Instance() string {
	return instanceName(a.cfg.Record.Cluster, a.cfg.Record.NodeID)
}

// Record is the record as last advertised (signed when a secret is set).
func (a *Advertiser) Record() Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.record
}

// Start validates the record and advertises it until Stop. Idempotent; a
// stopped advertiser starts again.
func (a *Advertiser) Start(ctx context.Context) error {
	err := a.Base.Start(ctx, a.advertise, a.loop)
	if errors.Is(err, lifecycle.ErrStopped) {
		a.withdraw() // Stop came while the record was being published
	}
	return err
}

// advertise validates the record, fills in the defaults that depend on the
// network, and publishes the record.
func (a *Advertiser) advertise(context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cfg.Port <= 0 || a.cfg.Port > 65535 {
		return fmt.Errorf("mDNS: advertised port %d is not a port", a.cfg.Port)
	}
	if err := a.cfg.Record.Validate(); err != nil {
		return fmt.Errorf("mDNS record cannot be advertised: %w", err)
	}
	if len(a.cfg.Interfaces) == 0 {
		ifaces, err := MulticastInterfaces(nil)
		if err != nil {
			return err
		}
		a.cfg.Interfaces = ifaces
	}
	if a.cfg.IPTypes == 0 {
		t, err := UsableIPTypes(a.cfg.Interfaces, IPv4AndIPv6)
		if err != nil {
			return err
		}
		a.cfg.IPTypes = t
	}
	if len(a.cfg.IPs) == 0 {
		a.cfg.IPs = InterfaceIPs(a.cfg.Interfaces, a.cfg.IPTypes)
		if len(a.cfg.IPs) == 0 {
			return fmt.Errorf("mDNS: no address to advertise on %s", interfaceNames(a.cfg.Interfaces))
		}
	}
	if err := a.register(); err != nil {
		return err
	}
	a.cfg.Env.Logger.Info("mDNS: advertising this node", "instance", a.Instance(), "service", MDNSService,
		"interfaces", interfaceNames(a.cfg.Interfaces), "ip", a.cfg.IPTypes.String(), "addrs", a.cfg.IPs,
		"port", a.cfg.Port, "signed", len(a.cfg.Secret) > 0, "store", a.cfg.Record.Store)
	return nil
}

// register (a.mu held) publishes the record, freshly signed if need be,
// in place of the one published before.
func (a *Advertiser) register() error {
	rec := a.cfg.Record
	if len(a.cfg.Secret) > 0 {
		rec.Sign(a.cfg.Secret, a.cfg.Env.Now())
	}
	if a.server != nil {
		a.server.Shutdown()
		a.server = nil
	}
	ips := make([]string, len(a.cfg.IPs))
	for i, ip := range a.cfg.IPs {
		ips[i] = ip.String()
	}
	name := a.Instance()
	srv, err := zeroconf.RegisterProxy(name, MDNSService, MDNSDomain, a.cfg.Port, name, ips, rec.TXT(),
		a.cfg.Interfaces, zeroconf.TTL(uint32(max(1, a.cfg.TTL/time.Second))))
	if err != nil {
		return fmt.Errorf("mDNS: advertise on %s: %w", interfaceNames(a.cfg.Interfaces), err)
	}
	a.server, a.record = srv, rec
	return nil
}

// loop renews a signed record's timestamp before browsers find it stale,
// and withdraws the record when ctx ends.
func (a *Advertiser) loop(ctx context.Context) {
	defer a.withdraw()
	if len(a.cfg.Secret) == 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(a.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.mu.Lock()
		err := a.register()
		a.mu.Unlock()
		if err != nil {
			a.cfg.Env.Logger.Error("mDNS: renewing the signed record failed; retrying", "err", err)
		}
	}
}

// withdraw sends the goodbye of the record and releases the sockets.
func (a *Advertiser) withdraw() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.server == nil {
		return // a failed renewal left nothing to withdraw
	}
	a.server.Shutdown() // sends the goodbye and waits for its goroutines
	a.server = nil
	a.cfg.Env.Logger.Info("mDNS: advertisement withdrawn", "instance", a.Instance())
}

// Stop withdraws the record and releases the sockets, within ctx.
// Idempotent.
func (a *Advertiser) Stop(ctx context.Context) error {
	return a.Base.Stop(ctx)
}
