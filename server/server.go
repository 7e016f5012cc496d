// Package server is a node's HTTP front: /graphql (POST, GET and WebSocket),
// /playground, /metrics, /healthz, /readyz and the dashboard at /.
package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rpg-archivist/archivist/auth"
	"github.com/rpg-archivist/archivist/lifecycle"
)

// DefaultAddr is where a node listens unless told otherwise: loopback
// only, so that a node started without thought is not on the network.
const DefaultAddr = "127.0.0.1:8080"

// Limits of the HTTP server that are not configurable.
const (
	// readHeaderTimeout bounds how long a client takes to send its
	// request headers.
	readHeaderTimeout = 10 * time.Second
	// idleTimeout closes a kept-alive connection without requests.
	idleTimeout = 2 * time.Minute
	// readyTimeout bounds the store check of /readyz.
	readyTimeout = 2 * time.Second
)

// Config configures a Server. Zero values mean the defaults.
type Config struct {
	// Addr to listen on (default DefaultAddr; port 0 picks a free one).
	Addr string
	// GraphQL serves /graphql.
	GraphQL http.Handler
	// Dashboard serves / (and everything not matched otherwise).
	Dashboard http.Handler
	// Metrics, if set, is served at /metrics.
	Metrics *Metrics
	// Ready reports whether the node can serve (the store answers); nil
	// means always ready.
	Ready func(context.Context) error
	// TLS, when enabled, serves HTTPS (and WSS).
	TLS TLSConfig
	// DisablePlayground turns /playground off.
	DisablePlayground bool
	// AllowedOrigins are the other web origins (patterns, see
	// CheckOriginPattern) whose pages may call /graphql from a browser; a
	// request from any other foreign origin is refused.
	AllowedOrigins []string
	// LoopbackHostsOnly refuses requests whose Host header is not a
	// loopback name or address (for a node without API keys).
	LoopbackHostsOnly bool
	// Keys, when it holds any, guards /metrics: a scraper sends a key of
	// any role as Authorization: Bearer, unless PublicMetrics.
	Keys          *auth.Keyring
	PublicMetrics bool
	// BodyTimeout is how long a client has to send a request body, from
	// when its headers are read (default DefaultBodyTimeout; negative: no
	// limit). Requests without a body, WebSockets among them, are not
	// bound by it.
	BodyTimeout time.Duration
	// Env is where the server logs (its own events and net/http's).
	Env lifecycle.Env
}

// Server is the HTTP server of a node. Its lifecycle.Base gives it the
// Started and Stopped signals; it can be started again after Stop (it
// listens anew).
type Server struct {
	lifecycle.Base
	cfg Config

	mu  sync.Mutex
	srv *http.Server // of the current (or last) run
	ln  net.Listener
	// shutdown bounds the graceful shutdown of the current run; abort ends
	// it, when Stop's context ends. Made with the run, so that a Stop
	// whose context ended already bounds it.
	shutdown context.Context
	abort    context.CancelFunc
}

// New returns a server that is not listening yet.
func New(cfg Config) *Server {
	cfg.Addr = cmp.Or(cfg.Addr, DefaultAddr)
	cfg.BodyTimeout = cmp.Or(cfg.BodyTimeout, DefaultBodyTimeout)
	cfg.Env = cfg.Env.WithDefaults()
	return &Server{cfg: cfg}
}

// Handler is the server's routing, for tests and embedding.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	if s.cfg.GraphQL != nil {
		mux.Handle("/graphql", withOrigins(s.cfg.GraphQL, s.cfg.AllowedOrigins))
	}
	if !s.cfg.DisablePlayground {
		mux.Handle("GET /playground", playgroundHandler())
	} else {
		mux.HandleFunc("GET /playground", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusNotFound, errorBody("NOT_FOUND", "the playground is turned off on this node (--no-playground)"))
		})
	}
	if s.cfg.Metrics != nil {
		var metrics http.Handler = promhttp.HandlerFor(s.cfg.Metrics.Registry, promhttp.HandlerOpts{EnableOpenMetrics: true})
		if s.cfg.Keys.Len() > 0 && !s.cfg.PublicMetrics {
			metrics = withKey(metrics, s.cfg.Keys)
		}
		mux.Handle("GET /metrics", metrics)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			if err := s.cfg.Ready(ctx); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	if s.cfg.Dashboard != nil {
		mux.Handle("/", s.cfg.Dashboard)
	}
	var h http.Handler = mux
	if s.cfg.LoopbackHostsOnly {
		h = withLoopbackHosts(h)
	}
	if s.cfg.BodyTimeout > 0 {
		h = withBodyDeadline(h, s.cfg.BodyTimeout)
	}
	return withHSTS(withSecurityHeaders(h), s.cfg.TLS.hstsValue())
}

// withHSTS sets Strict-Transport-Security on responses served over TLS, so
// that a browser that reached the node once over HTTPS never falls back to
// plain HTTP for it.
func withHSTS(next http.Handler, value string) http.Handler {
	if value == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("Strict-Transport-Security", value)
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Start listens and serves in the background until Stop. It returns once
// the address is bound, so that Addr is known, or the error of listening.
// Idempotent; a stopped server starts again.
func (s *Server) Start(ctx context.Context) error {
	err := s.Base.Start(ctx, s.listen, s.serve)
	if errors.Is(err, lifecycle.ErrStopped) {
		s.mu.Lock()
		if s.ln != nil {
			_ = s.ln.Close() // Stop came while it was binding
		}
		s.mu.Unlock()
	}
	return err
}

// listen binds the address and prepares the run's http.Server. Every
// request context derives from the run's context, which is also the
// lifetime of the WebSockets (they outlive their request's handler; see
// lifecycle.WithConnectionLifetime): Stop cancels it first, which closes
// the subscriptions.
func (s *Server) listen(ctx context.Context) error {
	tlsCfg, err := s.cfg.TLS.Load()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		BaseContext:       func(net.Listener) context.Context { return lifecycle.WithConnectionLifetime(ctx) },
		ErrorLog:          slog.NewLogLogger(s.cfg.Env.Logger.Handler(), slog.LevelWarn),
	}
	shutdown, abort := context.WithCancel(context.Background())
	s.mu.Lock()
	s.ln, s.srv, s.shutdown, s.abort = ln, srv, shutdown, abort
	s.mu.Unlock()
	s.cfg.Env.Logger.Info("serving HTTP", "addr", ln.Addr().String(), "tls", tlsCfg != nil)
	return nil
}

// serve serves until ctx ends, then shuts down gracefully: until the
// requests under way are answered, or Stop's context ends (abort), which
// closes every connection.
func (s *Server) serve(ctx context.Context) {
	s.mu.Lock()
	srv, ln, shutdown, abort := s.srv, s.ln, s.shutdown, s.abort
	s.mu.Unlock()
	defer abort()
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Env.Logger.Error("http server stopped", "err", err)
		}
	}()
	<-ctx.Done()
	if err := srv.Shutdown(shutdown); err != nil {
		_ = srv.Close()
	}
	<-served
}

// URL is the server's base URL, once started.
func (s *Server) URL() string {
	scheme := "http"
	if s.cfg.TLS.Enabled() {
		scheme = "https"
	}
	return scheme + "://" + s.Addr()
}

// Addr is the bound address, once started.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return s.cfg.Addr
	}
	return s.ln.Addr().String()
}

// Stop closes WebSockets, then shuts down gracefully within ctx: when ctx
// ends first, the connections still open are closed and Stop returns an
// error wrapping ctx's. Idempotent.
func (s *Server) Stop(ctx context.Context) error {
	defer context.AfterFunc(ctx, s.abortShutdown)()
	return s.Base.Stop(ctx)
}

// abortShutdown closes the connections a graceful shutdown waits for.
func (s *Server) abortShutdown() {
	s.mu.Lock()
	abort := s.abort
	s.mu.Unlock()
	if abort != nil {
		abort()
	}
}
