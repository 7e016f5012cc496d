package main

import "strings"

// compareVersions compares two semantic versions as the vulnerability
// database writes them ("1.2.3", "0.0.0-20200101-abcdef", "1.22.0-rc.1"),
// with or without a "v" or "go" prefix. Like golang.org/x/mod/semver, an
// invalid version (such as "") sorts before every valid one.
func compareVersions(a, b string) int {
	pa, oka := parseVersion(a)
	pb, okb := parseVersion(b)
	switch {
	case !oka && !okb:
		return 0
	case !oka:
		return -1
	case !okb:
		return 1
	}
	for i := range 3 {
		if c := compareNumeric(pa.num[i], pb.num[i]); c != 0 {
			return c
		}
	}
	return comparePrerelease(pa.pre, pb.pre)
}

// versionLess reports whether a < b.
func versionLess(a, b string) bool { return compareVersions(a, b) < 0 }

type version struct {
	num [3]string
	pre string
}

func parseVersion(s string) (version, bool) {
	var v version
	s = strings.TrimPrefix(s, "v")
	s = strings.TrimPrefix(s, "go")
	if i := strings.IndexByte(s, '+'); i >= 0 { // build metadata does not count
		s = s[:i]
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		v.pre = s[i+1:]
		s = s[:i]
		if v.pre == "" {
			return v, false
		}
		for _, id := range strings.Split(v.pre, ".") {
			if id == "" || !isIdent(id) || (isNumeric(id) && len(id) > 1 && id[0] == '0') {
				return v, false
			}
		}
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return v, false
	}
	for i, p := range parts {
		if !isNumeric(p) || (len(p) > 1 && p[0] == '0') {
			return v, false
		}
		v.num[i] = p
	}
	return v, true
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

// compareNumeric compares two decimal strings without leading zeros.
func compareNumeric(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// comparePrerelease follows semver 2.0.0: no prerelease sorts after any
// prerelease; identifiers compare numerically when both are numeric, and
// numeric identifiers sort before alphanumeric ones.
func comparePrerelease(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	}
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, y := as[i], bs[i]
		if x == y {
			continue
		}
		xn, yn := isNumeric(x), isNumeric(y)
		switch {
		case xn && yn:
			return compareNumeric(x, y)
		case xn:
			return -1
		case yn:
			return 1
		default:
			return strings.Compare(x, y)
		}
	}
	switch {
	case len(as) < len(bs):
		return -1
	case len(as) > len(bs):
		return 1
	}
	return 0
}
