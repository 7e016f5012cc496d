package apq

import (
	"strings"
	"testing"

	"github.com/rpg-archivist/archivist"
)

func TestHash(t *testing.T) {
	t.Parallel()
	got := Hash("{ nodes { id } }")
	if !ValidHash(got) {
		t.Fatalf("Hash = %q: not a lower-case hex SHA-256", got)
	}
	// The SHA-256 of the empty text, as every client computes it.
	if Hash("") != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("Hash(\"\") = %s", Hash(""))
	}
	for _, bad := range []string{"", got[:63], got + "0", strings.ToUpper(got), "g" + got[1:]} {
		if ValidHash(bad) {
			t.Errorf("ValidHash(%q) = true", bad)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	q := "{ nodes { id } }"
	if err := Check(Hash(q), q); err != nil {
		t.Errorf("Check of a good query: %v", err)
	}
	long := strings.Repeat(" ", MaxQueryBytes+1)
	for _, c := range []struct{ hash, query string }{{Hash(q), ""}, {"x", q}, {Hash(long), long}} {
		if err := Check(c.hash, c.query); !archivist.IsCode(err, archivist.CodeBadUserInput) {
			t.Errorf("Check(%.8q, %d bytes) = %v, want BAD_USER_INPUT", c.hash, len(c.query), err)
		}
	}
}

// TestMemoryLRU checks the eviction order and the budget, which counts
// EntryOverhead per entry.
func TestMemoryLRU(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	query := func(c byte) string { return "{" + strings.Repeat(string(c), 100-2) + "}" }
	m := NewMemory(3 * (100 + EntryOverhead))
	for _, c := range []byte("abc") {
		if err := m.PutQuery(ctx, Hash(query(c)), query(c)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _ := m.GetQuery(ctx, Hash(query('a'))); !ok { // a is now the most recent; b the least
		t.Fatal("a is gone before the budget is exceeded")
	}
	if err := m.PutQuery(ctx, Hash(query('d')), query('d')); err != nil {
		t.Fatal(err)
	}
	for c, want := range map[byte]bool{'a': true, 'b': false, 'c': true, 'd': true} {
		if got, ok, err := m.GetQuery(ctx, Hash(query(c))); err != nil || ok != want || (ok && got != query(c)) {
			t.Errorf("query %c: ok %v, err %v; want kept %v", c, ok, err, want)
		}
	}
	if n, bytes := m.Len(); n != 3 || bytes != 3*(100+EntryOverhead) {
		t.Errorf("Len = %d entries, %d bytes; want 3, %d", n, bytes, 3*(100+EntryOverhead))
	}
	if _, ok, err := m.GetQuery(ctx, "not-a-hash"); ok || err != nil {
		t.Errorf("a malformed hash: ok %v, err %v", ok, err)
	}
}
