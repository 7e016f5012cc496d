package discovery

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rpg-archivist/archivist"
)

func sampleRecord() Record {
	return Record{
		NodeID: "node-1", Cluster: "prod", Role: archivist.RoleHybrid, API: "169.254.1.10:8080",
		Version: "v1.2.3", Capabilities: []string{"echo", "text.*"}, Store: "redis://169.254.1.1:6379/0",
	}
}

func TestRecordRoundTrip(t *testing.T) {
	r := sampleRecord()
	got, err := ParseTXT(r.TXT())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(r, got); d != "" {
		t.Fatalf("round trip (-want +got):\n%s", d)
	}
	want := []string{"txtvers=1", "api=169.254.1.10:8080", "caps=echo,text.*", "cluster=prod", "id=node-1",
		"role=hybrid", "store=redis://169.254.1.1:6379/0", "version=v1.2.3"}
	if d := cmp.Diff(want, r.TXT()); d != "" {
		t.Fatalf("TXT (-want +got):\n%s", d)
	}
}

func TestRecordSignVerify(t *testing.T) {
	secret := []byte("s3cret")
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := sampleRecord()
	if err := r.Verify(secret, now, time.Minute); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("unsigned: %v", err)
	}
	r.Sign(secret, now)
	got, err := ParseTXT(r.TXT())
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(secret, now.Add(30*time.Second), time.Minute); err != nil {
		t.Fatalf("fresh signed record: %v", err)
	}
	if err := got.Verify([]byte("other"), now, time.Minute); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other secret: %v", err)
	}
	if err := got.Verify(secret, now.Add(2*time.Minute), time.Minute); !errors.Is(err, ErrStale) {
		t.Fatalf("old: %v", err)
	}
	if err := got.Verify(secret, now.Add(-2*time.Minute), time.Minute); !errors.Is(err, ErrStale) {
		t.Fatalf("from the future: %v", err)
	}
	// Any change of content breaks the signature: here the store a joining
	// node would use.
	forged := got
	forged.Store = "redis://169.254.9.9:6379/0"
	if err := forged.Verify(secret, now, time.Minute); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("altered store: %v", err)
	}
	// So does a key unknown to this version.
	txt := append(got.TXT(), "zz=1")
	extra, err := ParseTXT(txt)
	if err != nil {
		t.Fatal(err)
	}
	if err := extra.Verify(secret, now, time.Minute); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("added item: %v", err)
	}
}

func TestParseTXTRejects(t *testing.T) {
	base := sampleRecord().TXT()
	with := func(items ...string) []string { return append(append([]string(nil), base...), items...) }
	without := func(key string) []string {
		var out []string
		for _, it := range base {
			if !strings.HasPrefix(it, key+"=") {
				out = append(out, it)
			}
		}
		return out
	}
	for name, txt := range map[string][]string{
		"no txtvers":        without("txtvers"),
		"no id":             without("id"),
		"no cluster":        without("cluster"),
		"no role":           without("role"),
		"duplicate":         with("id=other"),
		"not key=value":     with("flag"),
		"bad key":           with("Key=v"),
		"bad role":          append(without("role"), "role=boss"),
		"upper role":        append(without("role"), "role=HYBRID"),
		"credentials":       append(without("store"), "store=redis://u:p@h:1/0"),
		"query":             append(without("store"), "store=redis://h:1/0?ca=/x"),
		"not redis":         append(without("store"), "store=bolt:/tmp/x"),
		"no host":           append(without("store"), "store=redis:///0"),
		"upper-case scheme": append(without("store"), "store=REDIS://h:1"),
		"control char":      with("x=a\nb"),
		"quote":             with(`x=a"b`),
		"ts without sig":    with("ts=1700000000"),
		"sig without ts":    with("sig=" + strings.Repeat("A", 43)),
		"bad ts":            with("ts=01700000000", "sig="+strings.Repeat("A", 43)),
		"bad sig":           with("ts=1700000000", "sig=!!"),
		"other version":     append(without("txtvers"), "txtvers=2"),
		"too long an item":  with("x=" + strings.Repeat("a", 300)),
		"bad api":           append(without("api"), "api=nohostport"),
		"id with a space":   append(without("id"), "id=a b"),
		"id too long":       append(without("id"), "id="+strings.Repeat("a", 129)),
	} {
		if _, err := ParseTXT(txt); err == nil {
			t.Errorf("%s: %q parsed", name, txt)
		}
	}
}

func TestRecordValidate(t *testing.T) {
	r := sampleRecord()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	r.Capabilities = []string{"a,b"}
	if err := r.Validate(); err == nil {
		t.Fatal("a capability with a comma validated")
	}
	r = sampleRecord()
	r.NodeID = `bad\id`
	if err := r.Validate(); err == nil {
		t.Fatal("a node id with a backslash validated")
	}
}

// FuzzParseTXT: parsing never panics, and whatever parses encodes back to
// TXT that parses to the same record, whose signature then verifies.
func FuzzParseTXT(f *testing.F) {
	signed := sampleRecord()
	signed.Sign([]byte("k"), time.Unix(1_800_000_000, 0))
	for _, txt := range [][]string{sampleRecord().TXT(), signed.TXT(), {""}, {"txtvers=1", "id=a", "cluster=c", "role=worker"}} {
		f.Add(strings.Join(txt, "\x00"))
	}
	f.Fuzz(func(t *testing.T, joined string) {
		r, err := ParseTXT(strings.Split(joined, "\x00"))
		if err != nil {
			return
		}
		again, err := ParseTXT(r.TXT())
		if err != nil {
			t.Fatalf("re-encoded %q does not parse: %v", r.TXT(), err)
		}
		if d := cmp.Diff(r, again); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
		key := []byte("fuzz")
		now := time.Unix(1_800_000_000, 0)
		r.Sign(key, now)
		back, err := ParseTXT(r.TXT())
		if err != nil {
			t.Fatalf("signed record does not parse: %v", err)
		}
		if err := back.Verify(key, now, time.Minute); err != nil {
			t.Fatalf("signed record does not verify: %v", err)
		}
	})
}
