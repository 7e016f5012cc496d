package graph

import (
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"
)

// normalQuery returns query without what does not count in GraphQL:
// comments, blanks, line ends, commas and byte order marks, keeping one
// space only where two tokens would otherwise run together. Strings and
// block strings are kept as they are. The result lexes to the same tokens
// as query (checked; query itself is returned should it not), so that it
// parses to the same document.
func normalQuery(query string) string {
	var b strings.Builder
	b.Grow(len(query))
	space := false // something ignored since the last byte written
	var last byte  // the last byte written
	emit := func(s string) {
		if space && b.Len() > 0 && !isPunctuator(last) && !isPunctuator(s[0]) {
			b.WriteByte(' ')
		}
		b.WriteString(s)
		last, space = s[len(s)-1], false
	}
	for i := 0; i < len(query); {
		c := query[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			space = true
			i++
		case strings.HasPrefix(query[i:], "\uFEFF"):
			space = true
			i += len("\uFEFF")
		case c == '#':
			for i < len(query) && query[i] != '\n' && query[i] != '\r' {
				i++
			}
			space = true
		case strings.HasPrefix(query[i:], `"""`):
			j := i + 3
			for j < len(query) && !strings.HasPrefix(query[j:], `"""`) {
				if strings.HasPrefix(query[j:], `\"""`) {
					j += 4
					continue
				}
				j++
			}
			j = min(j+3, len(query))
			emit(query[i:j])
			i = j
		case c == '"':
			j := i + 1
			for j < len(query) && query[j] != '"' && query[j] != '\n' && query[j] != '\r' {
				if query[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(query))
			emit(query[i:j])
			i = j
		default:
			j := i + 1
			for j < len(query) && !isBreak(query[j]) {
				j++
			}
			emit(query[i:j])
			i = j
		}
	}
	out := b.String()
	if !sameTokens(query, out) {
		return query
	}
	return out
}

// isPunctuator reports whether c is a GraphQL punctuator, next to which no
// space is needed ('.' only occurs in "..." or inside a number).
func isPunctuator(c byte) bool { return strings.IndexByte("!$&()[]{}:=@|.", c) >= 0 }

// isBreak reports whether c ends a run of name, number or punctuator
// bytes copied as they are.
func isBreak(c byte) bool {
	return strings.IndexByte(" \t\n\r,#\"", c) >= 0 || c == 0xEF
}

// sameTokens reports whether a and b lex to the same tokens, comments
// aside.
func sameTokens(a, b string) bool {
	la, lb := lexer.New(&ast.Source{Input: a}), lexer.New(&ast.Source{Input: b})
	next := func(l *lexer.Lexer) (lexer.Token, bool) {
		for {
			t, err := l.ReadToken()
			if err != nil {
				return t, false
			}
			if t.Kind != lexer.Comment {
				return t, true
			}
		}
	}
	for {
		ta, okA := next(&la)
		tb, okB := next(&lb)
		if !okA || !okB || ta.Kind != tb.Kind || ta.Value != tb.Value {
			return false
		}
		if ta.Kind == lexer.EOF {
			return true
		}
	}
}
