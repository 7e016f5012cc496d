package app

import (
	"io"
	"net"
	"strings"
	"testing"

	"github.com/rpg-archivist/archivist/discovery"
	"github.com/rpg-archivist/archivist/store"
)

func TestWithStorePassword(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, pass, want string }{
		{"redis://169.254.1.1:6379/0", "p@ss:/w", "redis://:p%40ss%3A%2Fw@169.254.1.1:6379/0"},
		{"redis://app@h:6379/0", "s3", "redis://app:s3@h:6379/0"},
		{"redis://app:own@h:6379/0", "other", "redis://app:own@h:6379/0"},
		{"redis+cluster://h1:7000,h2:7001", "pw", "redis+cluster://:pw@h1:7000,h2:7001"},
		{"redis://h:6379/0", "", "redis://h:6379/0"},
		{"bolt", "pw", "bolt"},
	} {
		got := store.WithRedisPassword(c.in, c.pass)
		if got != c.want {
			t.Errorf("store.WithRedisPassword(%q, %q) = %q, want %q", c.in, c.pass, got, c.want)
		}
		// What a node advertises never carries the password.
		if ep := store.RedisEndpoint(got); c.pass != "" && strings.Contains(ep, c.pass) {
			t.Errorf("endpoint %q of %q carries the password", ep, got)
		}
	}
}

func TestJoinable(t *testing.T) {
	t.Parallel()
	peer := func(store string, ips ...string) discovery.Peer {
		p := discovery.Peer{Record: discovery.Record{NodeID: "p", Store: store}}
		for _, ip := range ips {
			p.Addrs = append(p.Addrs, net.ParseIP(ip))
		}
		return p
	}
	if err := joinable(peer("", "169.254.1.2")); err == nil {
		t.Error("a peer without a shared store is joinable")
	}
	if err := joinable(peer("bolt://169.254.1.1/x.db", "169.254.1.2")); err == nil {
		t.Error("a peer advertising a store that is not Redis is joinable")
	}
	if err := joinable(peer("redis://169.254.1.1:6379/0", "169.254.1.2")); err != nil {
		t.Errorf("a LAN store: %v", err)
	}
	if err := joinable(peer("redis://127.0.0.1:6379/0", "192.0.2.200")); err == nil {
		t.Error("a loopback store of a peer on another machine is joinable")
	}
	if err := joinable(peer("redis://127.0.0.1:6379/0", "127.0.0.1")); err != nil {
		t.Errorf("a loopback store of a peer on this machine: %v", err)
	}
}

func TestMDNSOptions(t *testing.T) {
	t.Parallel()
	o, err := parseServe([]string{"--discovery", "auto", "--cluster", "lab"}, env(map[string]string{
		"ARCHIVIST_CLUSTER_SECRET": "sixteen-chars-ok", "ARCHIVIST_STORE_PASSWORD": "pw",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := &Main{Opts: o}
	if !m.zeroConfig() || o.ClusterSecret != "sixteen-chars-ok" || o.StorePassword != "pw" {
		t.Fatalf("zero-config %v, secret %q, password %q", m.zeroConfig(), o.ClusterSecret, o.StorePassword)
	}
	o, err = parseServe([]string{"--discovery", "auto", "--store", "memory"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if (&Main{Opts: o}).zeroConfig() {
		t.Error("a node given --store looks for one by mDNS")
	}
	for _, bad := range [][]string{
		{"--cluster-secret", "short"},
		{"--mdns-ttl", "0s"},
		{"--join-timeout", "0s"},
		{"--advertise-addr", "nohostport"},
	} {
		if _, err := parseServe(bad, env(nil), io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
