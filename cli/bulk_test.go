package cli

import (
	"strings"
	"testing"
)

func TestConfirm(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"y\n", true}, {"YES\n", true}, {" yes \n", true}, {"y", true},
		{"n\n", false}, {"\n", false}, {"", false}, {"yep\n", false},
	} {
		var out strings.Builder
		got, err := confirm(strings.NewReader(c.in), &out, "Cancel 3 tasks? [y/N] ")
		if err != nil || got != c.want {
			t.Errorf("confirm(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if !strings.HasPrefix(out.String(), "Cancel 3 tasks? [y/N] ") {
			t.Errorf("confirm(%q) asked %q", c.in, out.String())
		}
	}
}
