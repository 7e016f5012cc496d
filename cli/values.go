package cli

import (
	"fmt"
	"strings"
)

// The value syntax every archivist command shares: archivist serve reads
// its lists and enums (--capabilities, --role) as the client commands do.

// SplitList splits a comma-separated list, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, c := range strings.Split(s, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// EnumValue reads v as one of allowed (upper case, _ between words), in any
// case and with - for _ (least-busy for LEAST_BUSY). The error names the
// flag and lists the values as a user types them.
func EnumValue(flagName, v string, allowed ...string) (string, error) {
	u := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(v), "-", "_"))
	for _, a := range allowed {
		if u == a {
			return u, nil
		}
	}
	low := make([]string, len(allowed))
	for i, a := range allowed {
		low[i] = strings.ToLower(strings.ReplaceAll(a, "_", "-"))
	}
	return "", fmt.Errorf("--%s %q: use one of %s", flagName, v, strings.Join(low, ", "))
}
