package auth

import (
	"strings"
	"testing"
)

func TestNewKeyAndEntries(t *testing.T) {
	t.Parallel()
	key, line := NewKey(Operator)
	if !strings.HasPrefix(key, KeyPrefix) || len(key) < 40 || strings.Contains(line, key) {
		t.Fatalf("key %q, entry %q: the entry must hold only the hash", key, line)
	}
	var k Keyring
	if err := k.Add(line + " ci-bot"); err != nil {
		t.Fatal(err)
	}
	if err := k.AddList("viewer:a-long-viewer-key-123,admin:an-admin-key-456789"); err != nil {
		t.Fatal(err)
	}
	for tok, want := range map[string]Role{key: Operator, "a-long-viewer-key-123": Viewer, "an-admin-key-456789": Admin, "wrong": None, "": None} {
		if got := k.Authenticate(tok); got != want {
			t.Errorf("Authenticate(%q) = %s, want %s", tok, got, want)
		}
	}
	if p := k.Resolve("wrong"); p.Authenticated || p.Role != None || p.AuthOff {
		t.Errorf("bad key resolved to %+v", p)
	}
	var off Keyring
	if p := off.Resolve(""); !p.AuthOff || p.Role != Admin {
		t.Errorf("no keys: %+v, want auth off", p)
	}
}

func TestBadEntries(t *testing.T) {
	t.Parallel()
	for _, line := range []string{"king:abcdefghijklmnopq", "viewer:short", "viewer sha256:xyz", "operator", "admin sha256:" + strings.Repeat("a", 63)} {
		var k Keyring
		if err := k.Add(line); err == nil {
			t.Errorf("Add(%q) accepted", line)
		}
	}
	var k Keyring
	err := k.addReader(strings.NewReader("# keys\n\nviewer:a-long-viewer-key-123\nnonsense here\n"), "keys.txt")
	if err == nil || !strings.Contains(err.Error(), "keys.txt:4") {
		t.Fatalf("error %v, want one naming keys.txt:4", err)
	}
}

func TestBearer(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "abc": "", "": ""} {
		if got := BearerToken(in); got != want {
			t.Errorf("BearerToken(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKeyringReplace(t *testing.T) {
	var k Keyring
	if err := k.AddList("viewer:aaaaaaaaaaaaaaaa,operator:bbbbbbbbbbbbbbbb"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // requests go on while the keys are replaced
		defer close(done)
		for range 1000 {
			_ = k.Authenticate("aaaaaaaaaaaaaaaa")
		}
	}()
	var next Keyring
	if err := next.Add("admin:bbbbbbbbbbbbbbbb"); err != nil {
		t.Fatal(err)
	}
	k.Replace(&next)
	<-done
	if r := k.Authenticate("aaaaaaaaaaaaaaaa"); r != None {
		t.Errorf("a removed key authenticates as %s", r)
	}
	if r, ok := k.Admits(Hash("bbbbbbbbbbbbbbbb")); !ok || r != Admin {
		t.Errorf("a kept key: %s %v, want admin", r, ok)
	}
	if _, ok := k.Admits(Hash("aaaaaaaaaaaaaaaa")); ok {
		t.Error("a removed key's hash is still admitted")
	}
}

// TestKeyringOnReplace: hooks run after a Replace, with the new keys in force.
func TestKeyringOnReplace(t *testing.T) {
	k := &Keyring{}
	if err := k.Add("viewer:aaaaaaaaaaaaaaaaaaaa"); err != nil {
		t.Fatal(err)
	}
	var saw []bool
	k.OnReplace(func() {
		_, ok := k.Admits(Hash("aaaaaaaaaaaaaaaaaaaa"))
		saw = append(saw, ok)
	})
	next := &Keyring{}
	if err := next.Add("viewer:bbbbbbbbbbbbbbbbbbbb"); err != nil {
		t.Fatal(err)
	}
	k.Replace(next)
	if len(saw) != 1 || saw[0] {
		t.Fatalf("hook runs: %v, want one run that no longer sees the removed key", saw)
	}
}
