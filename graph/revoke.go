package graph

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/auth"
)

// closeRevoked is the close code of a WebSocket whose key a reload removed:
// the same as a connection_init without a valid key.
const closeRevoked = 4401

// liveSockets are the open WebSockets by the hash of the key each was opened
// with, so that a reload of the keys closes those whose key is gone (their
// subscriptions would otherwise go on streaming). A key given another role
// keeps its sockets: every role may subscribe, and each new operation is
// checked against the role in force (roleCheck).
type liveSockets struct {
	keys   *auth.Keyring
	logger *slog.Logger

	mu    sync.Mutex
	byKey map[string]map[*liveSocket]struct{}
}

// liveSocket is one WebSocket connection: set by the transport when it
// upgrades, registered under its key when connection_init is accepted.
type liveSocket struct {
	mu   sync.Mutex
	conn transport.WebsocketConn
	key  string
}

type liveSocketKey struct{}

func liveSocketFrom(ctx context.Context) *liveSocket {
	s, _ := ctx.Value(liveSocketKey{}).(*liveSocket)
	return s
}

func newLiveSockets(keys *auth.Keyring, logger *slog.Logger) *liveSockets {
	l := &liveSockets{keys: keys, logger: logger, byKey: map[string]map[*liveSocket]struct{}{}}
	keys.OnReplace(l.closeRevoked)
	return l
}

// add registers s under key. It reports false when the key is no longer
// admitted (a reload came between the check and this), and then leaves s out.
func (l *liveSockets) add(s *liveSocket, key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.keys.Admits(key); !ok {
		return false
	}
	s.mu.Lock()
	s.key = key
	s.mu.Unlock()
	set := l.byKey[key]
	if set == nil {
		set = map[*liveSocket]struct{}{}
		l.byKey[key] = set
	}
	set[s] = struct{}{}
	return true
}

// remove forgets s (its connection ended).
func (l *liveSockets) remove(s *liveSocket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s.mu.Lock()
	key := s.key
	s.mu.Unlock()
	if set := l.byKey[key]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(l.byKey, key)
		}
	}
}

// closeRevoked closes, with 4401, every socket whose key the keyring no
// longer admits. It runs after each reload of the keys.
func (l *liveSockets) closeRevoked() {
	var gone []*liveSocket
	l.mu.Lock()
	for key, set := range l.byKey {
		if _, ok := l.keys.Admits(key); ok {
			continue
		}
		for s := range set {
			gone = append(gone, s)
		}
		delete(l.byKey, key)
	}
	l.mu.Unlock()
	for _, s := range gone {
		s.mu.Lock()
		conn := s.conn
		s.mu.Unlock()
		if conn != nil {
			// WriteClose is safe beside the transport's own writes (coder/websocket
			// serialises frames); the transport's read loop then ends and cancels
			// the connection's operations.
			_ = conn.WriteClose(closeRevoked, "API key revoked")
		}
	}
	if len(gone) > 0 {
		l.logger.Info("WebSockets closed: their API key was removed", "count", len(gone))
	}
}

// trackedWebsocket gives each WebSocket request a liveSocket, and forgets it
// when the connection ends.
type trackedWebsocket struct {
	graphql.Transport
	live *liveSockets
}

func (t trackedWebsocket) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	s := &liveSocket{}
	defer t.live.remove(s)
	t.Transport.Do(w, r.WithContext(context.WithValue(r.Context(), liveSocketKey{}, s)), exec)
}

// trackedImplementation records the accepted connection in the request's
// liveSocket, so that a reload can close it.
type trackedImplementation struct {
	transport.WebsocketImplementation
}

func (t trackedImplementation) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := t.WebsocketImplementation.Accept(w, r, opts)
	if s := liveSocketFrom(r.Context()); s != nil && err == nil {
		s.mu.Lock()
		s.conn = conn
		s.mu.Unlock()
	}
	return conn, err
}

// registerInit registers a connection accepted with a key under that key.
func registerInit(live *liveSockets, check transport.WebsocketInitFunc) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		out, ack, err := check(ctx, payload)
		if err != nil {
			return out, ack, err
		}
		p := auth.From(out)
		s := liveSocketFrom(ctx)
		if !p.Authenticated || p.KeyHash == "" || s == nil {
			return out, ack, nil
		}
		if !live.add(s, p.KeyHash) {
			return transport.WithWebsocketCloseCode(ctx, closeRevoked), nil, archivist.Errorf(archivist.CodeUnauthenticated, "missing or invalid API key")
		}
		return out, ack, nil
	}
}
