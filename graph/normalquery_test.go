package graph

import (
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

func TestNormalQuery(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"{ nodes { id } }", "{nodes{id}}"},
		{"# comment\nquery  Q($a: Int = 1, $b: [Int!]) {\n  task(id: \"x\") { id, status }\n}\n", "query Q($a:Int=1$b:[Int!]){task(id:\"x\"){id status}}"},
		{"\uFEFF{ a: b c }", "{a:b c}"},
		{`{ f(s: "a # not a comment, \" still", n: [1 -2 3.5e1]) }`, `{f(s:"a # not a comment, \" still" n:[1 -2 3.5e1])}`},
		{"{ f(s: \"\"\"block # kept\n  \\\"\"\" inside\n\"\"\") }", "{f(s:\"\"\"block # kept\n  \\\"\"\" inside\n\"\"\")}"},
		{"{ ...F } fragment F on Query { ... on Query { a @include(if: true) } }", "{...F}fragment F on Query{...on Query{a@include(if:true)}}"},
		{"{ a }   ", "{a}"},
	}
	for _, tt := range tests {
		got := normalQuery(tt.in)
		if got != tt.want {
			t.Errorf("normalQuery(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
		a, errA := parser.ParseQuery(&ast.Source{Input: tt.in})
		b, errB := parser.ParseQuery(&ast.Source{Input: got})
		if errA != nil || errB != nil || len(a.Operations) != len(b.Operations) || len(a.Fragments) != len(b.Fragments) {
			t.Errorf("%q and its normal form parse differently: %v, %v", tt.in, errA, errB)
		}
	}
	// Something the lexer refuses is kept as it is.
	bad := `{ f(s: "unterminated }`
	if got := normalQuery(bad); got != bad {
		t.Errorf("normalQuery(%q) = %q, want it unchanged", bad, got)
	}
	// A query padded with comments shrinks to its tokens.
	padded := "{ nodes { id } }" + strings.Repeat("\n# padding padding padding", 2000)
	if got := normalQuery(padded); got != "{nodes{id}}" {
		t.Errorf("padded query normalised to %d bytes", len(got))
	}
}
