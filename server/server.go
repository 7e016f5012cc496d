// Package server is a node's HTTP front: /graphql (POST, GET and WebSocket),
// /playground, /metrics, /healthz, /readyz and the dashboard at /.
package server

import (
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
)

// Config configures a Server. Zero values mean the defaults.
type Config struct {
	// Addr to listen on (default 127.0.0.1:8080; port 0 picks a free one).
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
	Logger      *slog.Logger
}

// Server is the HTTP server of a node.
type Server struct {
	cfg Config

	mu     sync.Mutex
	srv    *http.Server
	ln     net.Listener
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a server that is not listening yet.
func New(cfg Config) *Server {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BodyTimeout == 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
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
		var metrics http.Handler = promhttp.HandlerFor(s.cfg.Metrics.Registry, promhttp.HandlerOpts{})
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
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
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

// Start listens and serves in the background. It returns once the address
// is bound, so that Addr is known. Idempotent.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
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
	// Every request context, WebSocket connections included, derives from
	// base: cancelling it on Stop closes the subscriptions.
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.ln, s.cancel, s.done = ln, cancel, make(chan struct{})
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Logger.Error("http server stopped", "err", err)
		}
	}()
	s.cfg.Logger.Info("serving HTTP", "addr", ln.Addr().String(), "tls", tlsCfg != nil)
	return nil
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

// Stop closes WebSockets, then shuts down gracefully within ctx.
// Idempotent.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv, cancel, done := s.srv, s.cancel, s.done
	s.cancel = nil
	s.mu.Unlock()
	if srv == nil || cancel == nil {
		return nil
	}
	cancel()
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
	}
	<-done
	return err
}
