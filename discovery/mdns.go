package discovery

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// mDNS discovery (--discovery auto): every node advertises itself as a
// DNS-SD service on the local network (Advertiser) and browses for the
// others (Browser). This only finds peers: liveness stays with heartbeats in
// the store. The mDNS library (github.com/libp2p/zeroconf/v2) reports no
// departures, so a peer leaves the discovered set when its record expires.

// DNS-SD names of the advertisement.
const (
	MDNSService = "_archivist._tcp"
	MDNSDomain  = "local."
)

// Defaults of the mDNS configs.
const (
	// DefaultMDNSTTL is the TTL of the advertised records: a node that is
	// gone leaves the others' discovered sets within it.
	DefaultMDNSTTL = 2 * time.Minute
	// DefaultMDNSMaxAge is how old (or how far ahead) a signed record's
	// timestamp may be. Advertisers renew theirs every quarter of it.
	DefaultMDNSMaxAge = 10 * time.Minute
)

// IPType selects the IP versions mDNS runs on.
type IPType uint8

// IP versions.
const (
	IPv4        IPType = 1
	IPv6        IPType = 2
	IPv4AndIPv6        = IPv4 | IPv6
)

func (t IPType) String() string {
	switch t {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	case IPv4AndIPv6:
		return "IPv4 and IPv6"
	}
	return "none"
}

var (
	mdnsGroup4 = net.IPv4(224, 0, 0, 251)
	mdnsGroup6 = net.ParseIP("ff02::fb")
)

// MulticastInterfaces returns the interfaces with the given names, or, when
// names is empty, every interface that is up, can multicast and is not a
// loopback. A named interface must exist and be up; it may be a loopback
// (for tests on one machine).
func MulticastInterfaces(names []string) ([]net.Interface, error) {
	if len(names) > 0 {
		var out []net.Interface
		for _, name := range names {
			ifi, err := net.InterfaceByName(name)
			if err != nil {
				return nil, fmt.Errorf("mDNS interface %q: %v", name, err)
			}
			if ifi.Flags&net.FlagUp == 0 {
				return nil, fmt.Errorf("mDNS interface %q is down", name)
			}
			out = append(out, *ifi)
		}
		return out, nil
	}
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %v", err)
	}
	var out []net.Interface
	for _, ifi := range all {
		if ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 && ifi.Flags&net.FlagLoopback == 0 {
			out = append(out, ifi)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no network interface is up and multicast-capable; name one with --mdns-interface")
	}
	return out, nil
}

// UsableIPTypes returns which of the wanted IP versions can join the mDNS
// group on at least one of ifaces (it opens and closes a socket per try).
func UsableIPTypes(ifaces []net.Interface, want IPType) (IPType, error) {
	var got IPType
	var errs []error
	try := func(t IPType, network string, group net.IP) {
		if want&t == 0 {
			return
		}
		for i := range ifaces {
			c, err := net.ListenMulticastUDP(network, &ifaces[i], &net.UDPAddr{IP: group, Port: 5353})
			if err == nil {
				c.Close()
				got |= t
				return
			}
			errs = append(errs, fmt.Errorf("%s on %s: %v", t, ifaces[i].Name, err))
		}
	}
	try(IPv4, "udp4", mdnsGroup4)
	try(IPv6, "udp6", mdnsGroup6)
	if got == 0 {
		return 0, fmt.Errorf("cannot join the mDNS group on %s: %w", interfaceNames(ifaces), errors.Join(errs...))
	}
	return got, nil
}

// InterfaceIPs are the addresses advertised for a node on ifaces: every
// IPv4 address, and the global IPv6 addresses of an interface (its
// link-local ones when it has none).
func InterfaceIPs(ifaces []net.Interface, types IPType) []net.IP {
	var out []net.IP
	for i := range ifaces {
		addrs, err := ifaces[i].Addrs()
		if err != nil {
			continue
		}
		var v6, v6local []net.IP
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip := ipn.IP
			switch {
			case ip.To4() != nil:
				if types&IPv4 != 0 {
					out = append(out, ip.To4())
				}
			case ip.IsLinkLocalUnicast():
				v6local = append(v6local, ip)
			default:
				v6 = append(v6, ip)
			}
		}
		if types&IPv6 != 0 {
			if len(v6) == 0 {
				v6 = v6local
			}
			out = append(out, v6...)
		}
	}
	return out
}

func interfaceNames(ifaces []net.Interface) string {
	names := make([]string, len(ifaces))
	for i, ifi := range ifaces {
		names[i] = ifi.Name
	}
	return strings.Join(names, ",")
}

// dnsLabel turns s into a DNS label: letters, digits and '-', at most 63
// characters.
func dnsLabel(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "-")
	}
	if out == "" {
		out = "node"
	}
	return out
}

// instanceName is a node's DNS-SD instance name, also used as its own host
// name for the SRV target and the A/AAAA records (not the machine's name,
// which an mDNS responder such as avahi may already publish). The cluster is
// part of it so that nodes of two clusters with the same id do not clash.
func instanceName(cluster, nodeID string) string {
	return dnsLabel("archivist-" + cluster + "-" + nodeID)
}
