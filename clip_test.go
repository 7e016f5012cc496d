package archivist

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	if got := Clip("short"); got != "short" {
		t.Errorf("Clip(short) = %q", got)
	}
	long := strings.Repeat("é", 1000) // 2 bytes each: the cut falls on a boundary or inside
	got := Clip("x" + long)
	if !strings.HasSuffix(got, "…") || len(got) > MaxEchoBytes+len("…") || !utf8.ValidString(got) {
		t.Errorf("Clip(long) = %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}
