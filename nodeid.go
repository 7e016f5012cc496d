package archivist

// MaxNodeIDLen bounds a node id: ids appear in store keys, logs, metrics
// labels and mDNS records.
const MaxNodeIDLen = 128

// CheckNodeID reports whether id is a well-formed node id: 1 to
// MaxNodeIDLen characters among ASCII letters, digits and . _ : -. Ids come
// from --node-id, the host name, mDNS records and API arguments; a
// malformed one is refused where it enters (BAD_USER_INPUT in the API).
func CheckNodeID(id string) error {
	if id == "" {
		return Errorf(CodeBadUserInput, "a node id must not be empty")
	}
	if len(id) > MaxNodeIDLen {
		return Errorf(CodeBadUserInput, "node id %q is %d bytes; the limit is %d", Clip(id), len(id), MaxNodeIDLen)
	}
	for i := 0; i < len(id); i++ {
		if !nodeIDByte(id[i]) {
			return Errorf(CodeBadUserInput, "node id %q: use only ASCII letters, digits and . _ : - (byte %d is 0x%02x)",
				Clip(id), i, id[i])
		}
	}
	return nil
}

func nodeIDByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-'
}

// SanitizeNodeID turns s (a host name, say) into a well-formed node id:
// other characters become '-', and it is cut to MaxNodeIDLen.
func SanitizeNodeID(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !nodeIDByte(c) {
			b[i] = '-'
		}
	}
	if len(b) > MaxNodeIDLen {
		b = b[:MaxNodeIDLen]
	}
	if len(b) == 0 {
		return "node"
	}
	return string(b)
}
