package archivist_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
)

func TestAdmissionKeyDerivation(t *testing.T) {
	t.Parallel()
	const secret = "correct horse battery staple"
	a := archivist.DeriveAdmissionKey(secret, "prod")
	if got := archivist.DeriveAdmissionKey(secret, "prod").Verifier(); got != a.Verifier() {
		t.Fatalf("derivation is not deterministic: %s then %s", a.Verifier(), got)
	}
	for name, other := range map[string]archivist.AdmissionKey{
		"another secret":  archivist.DeriveAdmissionKey(secret+"!", "prod"),
		"another cluster": archivist.DeriveAdmissionKey(secret, "staging"),
	} {
		if other.Verifier() == a.Verifier() {
			t.Errorf("%s gives the same verifier", name)
		}
	}
	v := a.Verifier()
	if !strings.HasPrefix(v, "ed25519:") || strings.Contains(v, secret) {
		t.Errorf("verifier %q: want an ed25519 public key, never the secret", v)
	}
	if fp := archivist.AdmissionKeyFingerprint(v); len(fp) != 12 || fp == archivist.AdmissionKeyFingerprint(archivist.DeriveAdmissionKey("x", "prod").Verifier()) {
		t.Errorf("fingerprint %q", fp)
	}
}

func TestVerifyAdmission(t *testing.T) {
	t.Parallel()
	key := archivist.DeriveAdmissionKey("the cluster secret", "prod")
	started := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600))
	node := func() *archivist.Node {
		return &archivist.Node{ID: "n1", StartedAt: started, AdmissionProof: key.Prove("n1", started)}
	}
	if !archivist.VerifyAdmission(key.Verifier(), node()) {
		t.Fatal("a proof made with the key does not verify")
	}
	// As a store keeps it: JSON, and the time in another zone.
	js, err := json.Marshal(node())
	if err != nil {
		t.Fatal(err)
	}
	var stored archivist.Node
	if err := json.Unmarshal(js, &stored); err != nil {
		t.Fatal(err)
	}
	stored.StartedAt = stored.StartedAt.UTC()
	if !archivist.VerifyAdmission(key.Verifier(), &stored) {
		t.Errorf("the proof no longer verifies after a JSON round trip: %s", js)
	}

	cases := map[string]struct {
		verifier string
		mod      func(*archivist.Node)
	}{
		"no proof":               {key.Verifier(), func(n *archivist.Node) { n.AdmissionProof = "" }},
		"another node's id":      {key.Verifier(), func(n *archivist.Node) { n.ID = "n2" }},
		"another start":          {key.Verifier(), func(n *archivist.Node) { n.StartedAt = started.Add(time.Nanosecond) }},
		"another secret":         {archivist.DeriveAdmissionKey("another secret", "prod").Verifier(), nil},
		"another cluster":        {archivist.DeriveAdmissionKey("the cluster secret", "staging").Verifier(), nil},
		"garbage proof":          {key.Verifier(), func(n *archivist.Node) { n.AdmissionProof = "not base64!" }},
		"truncated proof":        {key.Verifier(), func(n *archivist.Node) { n.AdmissionProof = n.AdmissionProof[:20] }},
		"malformed verifier":     {"ed25519:AAAA", nil},
		"unknown scheme":         {"hmac:" + strings.TrimPrefix(key.Verifier(), "ed25519:"), nil},
		"verifier as the secret": {"the cluster secret", nil},
	}
	for name, tc := range cases {
		n := node()
		if tc.mod != nil {
			tc.mod(n)
		}
		if archivist.VerifyAdmission(tc.verifier, n) {
			t.Errorf("%s: verifies, want refused", name)
		}
	}
	if archivist.VerifyAdmission(key.Verifier(), nil) {
		t.Error("a nil node verifies")
	}
}

func BenchmarkAdmissionProve(b *testing.B) {
	started := time.Now()
	for b.Loop() {
		_ = archivist.DeriveAdmissionKey("the cluster secret", "prod").Prove("n1", started)
	}
}
