package graph

import (
	"bufio"
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
)

// The WebSocket connections: github.com/coder/websocket, as gqlgen's own
// adapter uses it, with the writes made cheaper for a node that sends many
// small messages to many connections (subscriptions):
//
//   - A connection's messages go through a queue and one writer: the
//     messages waiting when it gets to them are written with one system
//     call (the frames are gathered under the connection, see corkConn)
//     instead of one call each. A sender waits only while the queue is full
//     (maxQueuedMessages): a client that does not read slows its own
//     subscriptions down, as before, and is ended as a slow subscriber.
//   - A message's JSON is written around its payload as it is (gqlgen
//     encoded it already), not encoded a second time.
//   - A write that the client does not take for writeTimeout closes the
//     connection.

const (
	// maxQueuedMessages bounds the messages a connection holds before its
	// writer takes them.
	maxQueuedMessages = 256
	// writeTimeout is how long a batch of writes may wait for the client.
	writeTimeout = 30 * time.Second
)

// batchedImplementation accepts WebSockets for gqlgen's transport.
type batchedImplementation struct {
	AcceptOptions websocket.AcceptOptions
	// KeepAlive, when not 0, is how often a connection is sent a keep-alive
	// (see batchedConn.startKeepAlive); gqlgen's own, a goroutine and a ticker
	// per connection, is then turned off.
	KeepAlive time.Duration
}

var _ transport.WebsocketImplementation = batchedImplementation{}

func (u batchedImplementation) Accept(w http.ResponseWriter, r *http.Request, options transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	for key, values := range options.ResponseHeader {
		for _, value := range values {
			w.Header().Add(key, value)
		}
	}
	opts := u.AcceptOptions
	for _, p := range options.Subprotocols {
		if !slices.Contains(opts.Subprotocols, p) {
			opts.Subprotocols = append(opts.Subprotocols, p)
		}
	}
	hj := &corkHijacker{ResponseWriter: w}
	conn, err := websocket.Accept(hj, r, &opts)
	if err != nil {
		return nil, err
	}
	c := &batchedConn{conn: conn, cork: hj.conn}
	c.room = sync.NewCond(&c.mu)
	c.lastRead.Store(time.Now().UnixNano())
	if u.KeepAlive > 0 {
		c.startKeepAlive(u.KeepAlive)
	}
	return c, nil
}

// corkHijacker hands coder/websocket the hijacked connection wrapped in a
// corkConn, with small buffers over it: every write is gathered by the
// corkConn anyway, so the HTTP server's 4 KiB buffers (which the connection
// would keep for its whole life) are let go.
type corkHijacker struct {
	http.ResponseWriter
	conn *corkConn
}

func (h *corkHijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }

func (h *corkHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	h.conn = &corkConn{Conn: conn}
	br := brw.Reader
	if br.Buffered() == 0 {
		// Nothing read ahead (a client waits for the upgrade's answer):
		// the HTTP server's 4 KiB read buffer gives way to a smaller one.
		br = bufio.NewReaderSize(conn, connReadBuffer)
	}
	return h.conn, bufio.NewReadWriter(br, bufio.NewWriterSize(h.conn, connWriteBuffer)), nil
}

// connWriteBuffer is a connection's write buffer: a frame's header and
// small payloads (the corkConn gathers them).
const connWriteBuffer = 512

// connReadBuffer is a connection's read buffer: clients send few and small
// messages (an operation, a pong), and a larger payload is read past it.
const connReadBuffer = 1024

// corkBuffers are the corkConns' buffers, lent for one batch each, so that
// an idle connection holds none.
var corkBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// corkConn gathers the writes made between cork and uncork and writes them
// at uncork, in one call; other writes go straight through. Writes are
// whole frames (coder/websocket flushes a frame's buffer under its own
// lock), so gathered and direct ones never interleave within a frame.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    *[]byte // while corked
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		if c.buf == nil {
			c.buf = corkBuffers.Get().(*[]byte)
		}
		*c.buf = append(*c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if c.buf == nil {
		return nil
	}
	_, err := c.Conn.Write(*c.buf)
	if cap(*c.buf) <= 256<<10 { // a rare huge batch's buffer is let go
		*c.buf = (*c.buf)[:0]
		corkBuffers.Put(c.buf)
	}
	c.buf = nil
	return err
}

// batchedConn is one accepted WebSocket.
type batchedConn struct {
	conn *websocket.Conn
	cork *corkConn

	mu      sync.Mutex
	room    *sync.Cond // the queue has room, or the writer stopped
	queue   [][]byte
	spare   [][]byte
	writing bool
	err     error // the write error that stopped the connection

	readDeadline *time.Timer
	closing      bool
	closeDone    chan struct{}

	// The keep-alive: a timer, whose function runs only when it fires
	// (no goroutine waits for it), and when a message was last read.
	keepAliveTimer   *time.Timer
	keepAliveStopped bool
	lastRead         atomic.Int64 // UnixNano
}

var (
	_ transport.WebsocketConn          = (*batchedConn)(nil)
	_ transport.WebsocketReadLimiter   = (*batchedConn)(nil)
	_ transport.WebsocketReadDeadliner = (*batchedConn)(nil)
)

func (c *batchedConn) NextReader() (int, io.Reader, error) {
	typ, data, err := c.conn.Read(context.Background())
	if err == nil {
		c.lastRead.Store(time.Now().UnixNano())
	}
	if err != nil {
		switch websocket.CloseStatus(err) {
		case websocket.StatusNormalClosure, websocket.StatusNoStatusRcvd:
			return int(typ), nil, transport.ErrWebsocketClosed
		}
		return int(typ), nil, err
	}
	return int(typ), bytes.NewReader(data), nil
}

// The keep-alive messages of the two protocols.
var (
	pingMessage      = []byte(`{"type":"ping"}`) // graphql-transport-ws: the client answers pong
	keepAliveMessage = []byte(`{"type":"ka"}`)   // graphql-ws (the older protocol): no answer
)

// startKeepAlive sends the connection a keep-alive every interval, from a
// timer: gqlgen's transport would run a goroutine and a ticker for each
// connection, which for an idle subscriber is a good part of what it costs.
// Under graphql-transport-ws the message is a ping, and a client that has
// sent nothing (a pong, say) for twice the interval is taken as gone and
// the connection closed, as gqlgen's read deadline would; under the older
// graphql-ws it is a ka, which clients do not answer.
func (c *batchedConn) startKeepAlive(interval time.Duration) {
	msg := keepAliveMessage
	answers := c.conn.Subprotocol() == "graphql-transport-ws"
	if answers {
		msg = pingMessage
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keepAliveTimer = time.AfterFunc(interval, func() {
		if answers && time.Since(time.Unix(0, c.lastRead.Load())) > 2*interval {
			_ = c.conn.CloseNow()
			return
		}
		if c.enqueue(msg) != nil {
			return // the connection is closed
		}
		c.mu.Lock()
		if !c.keepAliveStopped && !c.closing && c.err == nil {
			c.keepAliveTimer.Reset(interval)
		}
		c.mu.Unlock()
	})
}

// stopKeepAlive stops the keep-alive, if any.
func (c *batchedConn) stopKeepAlive() {
	c.mu.Lock()
	c.keepAliveStopped = true
	if c.keepAliveTimer != nil {
		c.keepAliveTimer.Stop()
	}
	c.mu.Unlock()
}

// WriteJSON queues v's JSON for the writer; it waits only while the queue
// is full. An error is that of an earlier write, which closed the
// connection.
func (c *batchedConn) WriteJSON(v any) error {
	b, err := encodeMessage(v)
	if err != nil {
		return err
	}
	return c.enqueue(b)
}

// enqueue queues an encoded message for the writer, as WriteJSON.
func (c *batchedConn) enqueue(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && len(c.queue) >= maxQueuedMessages {
		c.room.Wait()
	}
	if c.err != nil {
		return c.err
	}
	c.queue = append(c.queue, b)
	if !c.writing {
		c.writing = true
		go c.write()
	}
	return nil
}

// write is the connection's writer while its queue holds messages.
func (c *batchedConn) write() {
	for {
		c.mu.Lock()
		batch := c.queue
		if len(batch) == 0 {
			c.writing = false
			c.room.Broadcast()
			c.mu.Unlock()
			return
		}
		c.queue, c.spare = c.spare[:0], nil
		c.room.Broadcast()
		c.mu.Unlock()

		err := c.writeBatch(batch)

		clear(batch)
		c.mu.Lock()
		if c.spare == nil {
			c.spare = batch[:0]
		}
		if err != nil {
			c.err = err
			c.queue, c.writing = nil, false
			c.room.Broadcast()
			c.mu.Unlock()
			_ = c.conn.CloseNow()
			return
		}
		c.mu.Unlock()
	}
}

func (c *batchedConn) writeBatch(batch [][]byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	c.cork.cork()
	var err error
	for _, b := range batch {
		if err = c.conn.Write(ctx, websocket.MessageText, b); err != nil {
			break
		}
	}
	if uerr := c.cork.uncork(); err == nil {
		err = uerr
	}
	return err
}

// drained waits until the writer has written what is queued, or stopped.
func (c *batchedConn) drained() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.writing && c.err == nil {
		c.room.Wait()
	}
}

// WriteClose sends the close frame after the messages queued before it, and
// runs the close handshake, in the background (as gqlgen's adapter does: a
// peer that does not answer does not stall the transport).
func (c *batchedConn) WriteClose(code int, message string) error {
	c.clearReadDeadline()
	c.stopKeepAlive()
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil
	}
	c.closing = true
	done := make(chan struct{})
	c.closeDone = done
	c.mu.Unlock()
	go func() {
		defer close(done)
		c.drained()
		_ = c.conn.Close(websocket.StatusCode(code), message)
	}()
	return nil
}

func (c *batchedConn) Close() error {
	c.clearReadDeadline()
	c.stopKeepAlive()
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if closing {
		return nil // the close handshake owns the connection
	}
	return c.conn.CloseNow()
}

func (c *batchedConn) Subprotocol() string { return c.conn.Subprotocol() }

func (c *batchedConn) SetReadLimit(limit int64) { c.conn.SetReadLimit(limit) }

// SetReadDeadline closes the connection when nothing was read by t (a
// zero t: no deadline).
func (c *batchedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	if c.readDeadline != nil {
		c.readDeadline.Stop()
		c.readDeadline = nil
	}
	now := false
	if !t.IsZero() {
		if d := time.Until(t); d <= 0 {
			now = true
		} else {
			c.readDeadline = time.AfterFunc(d, func() { _ = c.conn.CloseNow() })
		}
	}
	c.mu.Unlock()
	if now {
		return c.conn.CloseNow()
	}
	return nil
}

func (c *batchedConn) clearReadDeadline() { _ = c.SetReadDeadline(time.Time{}) }

// Encoding. gqlgen's transport hands WriteJSON a message struct of strings
// (the id), text marshalers (the type) and json.RawMessage (the payload it
// encoded). encodeMessage writes such a struct directly, the payload as it
// is; anything else goes to encoding/json.

type fieldKind int

const (
	fieldString fieldKind = iota
	fieldRaw
	fieldText
)

type planField struct {
	index     int
	name      []byte // `"name":`
	kind      fieldKind
	omitEmpty bool
}

var (
	// slowEncodes counts the messages encodeMessage left to encoding/json
	// (for tests: gqlgen's messages should never be among them).
	slowEncodes  atomic.Int64
	messagePlans sync.Map // reflect.Type -> []planField (nil: use encoding/json)
	rawType      = reflect.TypeFor[json.RawMessage]()
	textType     = reflect.TypeFor[encoding.TextMarshaler]()
	jsonType     = reflect.TypeFor[json.Marshaler]()
)

func planFor(t reflect.Type) []planField {
	if p, ok := messagePlans.Load(t); ok {
		return p.([]planField)
	}
	plan := buildPlan(t)
	messagePlans.Store(t, plan)
	return plan
}

// buildPlan is how encodeMessage writes a struct of type t, or nil when it
// has a field that only encoding/json knows how to write.
func buildPlan(t reflect.Type) []planField {
	var plan []planField
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case f.Anonymous:
			return nil // promoted fields: encoding/json's
		case !f.IsExported():
			continue // encoding/json leaves them out too
		case name == "-" && opts == "":
			continue
		case name == "":
			name = f.Name
		}
		pf := planField{index: i, name: append(appendJSONString(nil, name), ':')}
		for o := range strings.SplitSeq(opts, ",") {
			switch o {
			case "omitempty":
				pf.omitEmpty = true
			case "":
			default:
				return nil // "string" and others: encoding/json's
			}
		}
		switch {
		case f.Type == rawType:
			pf.kind = fieldRaw
		case f.Type.Implements(jsonType) || reflect.PointerTo(f.Type).Implements(jsonType):
			return nil
		case f.Type.Implements(textType) && !pf.omitEmpty:
			pf.kind = fieldText
		case f.Type.Kind() == reflect.String && !reflect.PointerTo(f.Type).Implements(textType):
			pf.kind = fieldString
		default:
			return nil
		}
		plan = append(plan, pf)
	}
	return plan
}

func encodeMessage(v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		slowEncodes.Add(1)
		return json.Marshal(v)
	}
	plan := planFor(rv.Type())
	if plan == nil {
		slowEncodes.Add(1)
		return json.Marshal(v)
	}
	size := 2
	for _, f := range plan {
		size += len(f.name) + 2
		if f.kind == fieldRaw {
			size += rv.Field(f.index).Len()
		} else if f.kind == fieldString {
			size += rv.Field(f.index).Len() + 2
		} else {
			size += 24
		}
	}
	out := make([]byte, 1, size)
	out[0] = '{'
	first := true
	for _, f := range plan {
		fv := rv.Field(f.index)
		var val []byte
		switch f.kind {
		case fieldRaw:
			raw := fv.Bytes()
			if len(raw) == 0 {
				if f.omitEmpty {
					continue
				}
				raw = []byte("null")
			}
			val = raw
		case fieldString:
			s := fv.String()
			if s == "" && f.omitEmpty {
				continue
			}
			val = appendJSONString(nil, s)
		case fieldText:
			text, err := fv.Interface().(encoding.TextMarshaler).MarshalText()
			if err != nil {
				return nil, err
			}
			val = appendJSONString(nil, string(text))
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, f.name...)
		out = append(out, val...)
	}
	return append(out, '}'), nil
}

// appendJSONString appends s as a JSON string: plain ASCII as it is, the
// rest through encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b, err := json.Marshal(s)
			if err != nil { // cannot happen for a string
				return append(dst, `""`...)
			}
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
