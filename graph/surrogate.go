package graph

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/rpg-archivist/archivist"
)

// Text that is not Unicode is refused where it enters, not mangled: Go's
// decoders (encoding/json, gqlparser) quietly turn invalid UTF-8 and escaped
// lone surrogates ("\ud800") into U+FFFD, and the task would store text
// other than what was sent.

const msgLoneSurrogate = "an escaped lone surrogate (\\uD800-\\uDFFF without its pair) is not a character; send valid UTF-16 pairs or UTF-8"

// loneSurrogateJSON reports whether a JSON text has a string with an
// escaped surrogate that is not part of a pair. It does not check that b
// is otherwise valid JSON.
func loneSurrogateJSON(b []byte) bool {
	in := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case !in:
			in = c == '"'
		case c == '"':
			in = false
		case c == '\\':
			if i+1 < len(b) && b[i+1] == 'u' {
				if lone, n := surrogateAt(b, i); lone {
					return true
				} else {
					i += n - 1
				}
			} else {
				i++ // the escaped character
			}
		}
	}
	return false
}

// loneSurrogateGraphQL reports whether a GraphQL document has a string
// literal with an escaped lone surrogate. Block strings ("""...""") do not
// process \u escapes; comments run to the end of the line.
func loneSurrogateGraphQL(q string) bool {
	b := []byte(q)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '#':
			for i < len(b) && b[i] != '\n' && b[i] != '\r' {
				i++
			}
		case '"':
			if i+2 < len(b) && b[i+1] == '"' && b[i+2] == '"' {
				i += 3
				for i < len(b) {
					if b[i] == '\\' && i+3 < len(b) && b[i+1] == '"' && b[i+2] == '"' && b[i+3] == '"' {
						i += 4
						continue
					}
					if b[i] == '"' && i+2 < len(b) && b[i+1] == '"' && b[i+2] == '"' {
						i += 2
						break
					}
					i++
				}
				continue
			}
			for i++; i < len(b) && b[i] != '"' && b[i] != '\n'; i++ {
				if b[i] != '\\' {
					continue
				}
				if i+1 < len(b) && b[i+1] == 'u' {
					lone, n := surrogateAt(b, i)
					if lone {
						return true
					}
					i += n - 1
				} else {
					i++
				}
			}
		}
	}
	return false
}

// surrogateAt looks at the \u escape at b[i:]: whether it is a lone
// surrogate, and how many bytes the escape (or pair) takes.
func surrogateAt(b []byte, i int) (lone bool, n int) {
	r, ok := hex4(b, i+2)
	if !ok {
		return false, 2
	}
	switch {
	case r >= 0xDC00 && r <= 0xDFFF:
		return true, 6
	case r >= 0xD800 && r <= 0xDBFF:
		if i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
			if r2, ok := hex4(b, i+8); ok && r2 >= 0xDC00 && r2 <= 0xDFFF {
				return false, 12
			}
		}
		return true, 6
	}
	return false, 6
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// unicodeQuery refuses an operation whose query text has an escaped lone
// surrogate in a string literal (every transport: POST, GET, WebSocket).
type unicodeQuery struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = unicodeQuery{}

func (unicodeQuery) ExtensionName() string { return "UnicodeQuery" }

func (unicodeQuery) Validate(graphql.ExecutableSchema) error { return nil }

func (unicodeQuery) MutateOperationContext(_ context.Context, op *graphql.OperationContext) *gqlerror.Error {
	if !loneSurrogateGraphQL(op.RawQuery) {
		return nil
	}
	return &gqlerror.Error{Message: "the query has " + msgLoneSurrogate,
		Extensions: map[string]any{"code": string(archivist.CodeBadUserInput)}}
}

// closeInvalidText is the WebSocket close code for a text message that is
// not valid UTF-8 (RFC 6455: invalid frame payload data).
const closeInvalidText = 1007

// unicodeImplementation checks every WebSocket message as limitedPOST
// checks a body: a message that is not valid UTF-8, or that escapes a lone
// surrogate, closes the connection with 1007.
type unicodeImplementation struct {
	transport.WebsocketImplementation
}

func (u unicodeImplementation) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := u.WebsocketImplementation.Accept(w, r, opts)
	if err != nil {
		return conn, err
	}
	return unicodeConn{conn}, nil
}

type unicodeConn struct{ transport.WebsocketConn }

var (
	_ transport.WebsocketReadLimiter   = unicodeConn{}
	_ transport.WebsocketReadDeadliner = unicodeConn{}
)

var errInvalidText = errors.New("a WebSocket message is not valid UTF-8 or has a lone surrogate escape")

func (c unicodeConn) NextReader() (int, io.Reader, error) {
	typ, r, err := c.WebsocketConn.NextReader()
	if err != nil || r == nil {
		return typ, r, err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return typ, nil, err
	}
	switch {
	case !utf8.Valid(b):
		_ = c.WriteClose(closeInvalidText, "message is not valid UTF-8")
		return typ, nil, errInvalidText
	case loneSurrogateJSON(b):
		_ = c.WriteClose(closeInvalidText, "message has an escaped lone surrogate")
		return typ, nil, errInvalidText
	}
	return typ, bytes.NewReader(b), nil
}

func (c unicodeConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

func (c unicodeConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}
