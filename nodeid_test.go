package archivist

import (
	"strings"
	"testing"
)

func TestCheckNodeID(t *testing.T) {
	for id, ok := range map[string]bool{
		"n1": true, "host-8080": true, "a.b_c:d-E9": true, strings.Repeat("a", MaxNodeIDLen): true,
		"": false, strings.Repeat("a", MaxNodeIDLen+1): false, "a b": false, "a/b": false, "é": false, "a\nb": false, "{x}": false,
	} {
		err := CheckNodeID(id)
		if (err == nil) != ok {
			t.Errorf("CheckNodeID(%q) = %v, want ok %v", id, err, ok)
		}
		if err != nil && ErrorCodeOf(err) != CodeBadUserInput {
			t.Errorf("CheckNodeID(%q): code %s", id, ErrorCodeOf(err))
		}
		if err != nil && len(err.Error()) > 400 {
			t.Errorf("CheckNodeID: the error quotes %d bytes", len(err.Error()))
		}
	}
	for in, want := range map[string]string{"my_host": "my_host", "a b/c": "a-b-c", "": "node"} {
		if got := SanitizeNodeID(in); got != want || CheckNodeID(got) != nil {
			t.Errorf("SanitizeNodeID(%q) = %q", in, got)
		}
	}
	if got := SanitizeNodeID(strings.Repeat("x", 300)); len(got) != MaxNodeIDLen {
		t.Errorf("SanitizeNodeID(300 x) is %d bytes", len(got))
	}
}
