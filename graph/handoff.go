package graph

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/rpg-archivist/archivist/lifecycle"
)

// A WebSocket outlives the HTTP request that opened it. Each one is served
// by a goroutine started for it, and the HTTP server's handler returns as
// soon as the connection is upgraded: the handler's stack (grown by every
// middleware the request went through) and net/http's per-request state
// are let go for the connection's life, which for an idle subscriber is
// most of what it would cost. Until the upgrade, the handler waits, so the
// request is answered by the handler as any other (a refused upgrade, a
// limit).

// handedOffWebsocket serves a WebSocket transport's connections in
// goroutines of their own.
type handedOffWebsocket struct {
	graphql.Transport
	logger *slog.Logger
}

func (t handedOffWebsocket) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	// The request's context ends when the handler returns: the
	// connection's keeps its values and ends with the lifetime instead.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	stop := func() bool { return false }
	if life, ok := lifecycle.ConnectionLifetime(r.Context()); ok {
		stop = context.AfterFunc(life, cancel)
	}
	hw := &handoffWriter{ResponseWriter: w, upgraded: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel() // which closes the connection, if it is open
		defer stop()
		// Out of the HTTP server's handler, a panic is no longer
		// recovered by it: it ends this connection, not the node.
		defer func() {
			if p := recover(); p != nil {
				t.logger.ErrorContext(ctx, "graphql: websocket connection panicked", "panic", p, "stack", string(debug.Stack()))
				select {
				case <-hw.upgraded:
					_ = hw.conn.Close()
				default:
					http.Error(hw, "internal error", http.StatusInternalServerError)
				}
			}
		}()
		t.Transport.Do(hw, r.WithContext(ctx), newOrderedExecutor(exec))
	}()
	select {
	case <-hw.upgraded:
	case <-done:
	}
}

// handoffWriter is the ResponseWriter of a request being upgraded: it
// tells the handler when the connection was hijacked, after which the
// handler returns and the writer is no longer used.
type handoffWriter struct {
	http.ResponseWriter
	upgraded chan struct{}
	once     sync.Once
	conn     net.Conn // once upgraded
}

func (h *handoffWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }

func (h *handoffWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.once.Do(func() {
		h.conn = conn
		// The transport keeps its ResponseWriter for the connection's
		// life (on its goroutine's stack): let go of net/http's, which
		// holds the request's 4 KiB buffers.
		h.ResponseWriter = hijackedWriter{header: h.ResponseWriter.Header()}
		close(h.upgraded)
	})
	return conn, brw, nil
}

// hijackedWriter stands for a ResponseWriter whose connection was
// hijacked: it writes nothing, as net/http's then would, and keeps the
// response's header (the upgrade reads the subprotocol it chose from it).
type hijackedWriter struct{ header http.Header }

func (w hijackedWriter) Header() http.Header     { return w.header }
func (hijackedWriter) Write([]byte) (int, error) { return 0, http.ErrHijacked }
func (hijackedWriter) WriteHeader(int)           {}
