// Package client is the Go client of Archivist's GraphQL API, for programs
// such as the RPG Archivist app and the archivist command line: submit tasks
// (one or many), read, list, cancel and retry them, wait for one to finish
// and watch changes live over a WebSocket subscription, and manage nodes and
// the cluster configuration. Every call takes a context; errors from the
// server are *Error values carrying the API's error code.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

// Client talks to one Archivist node. It is safe for concurrent use.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithToken sends an API key as a bearer token (and in the WebSocket
// connection_init payload).
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient uses hc for requests (timeouts, TLS, proxies).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// New returns a client of the node at server: a base URL such as
// http://127.0.0.1:8080 (a bare host:port means http).
func New(server string, opts ...Option) *Client {
	server = strings.TrimRight(server, "/")
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	server = strings.TrimSuffix(server, "/graphql")
	c := &Client{base: server, http: &http.Client{Timeout: time.Minute}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Server is the node's base URL.
func (c *Client) Server() string { return c.base }

// Error is an error reported by the API.
type Error struct {
	// Code is the API's extensions.code: BAD_USER_INPUT, NOT_FOUND,
	// UNAUTHENTICATED, FORBIDDEN, CONFLICT, UNAVAILABLE, INTERNAL, or a
	// GraphQL parse or validation code.
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return e.Message
	}
	return e.Message + " (" + e.Code + ")"
}

// Codes the API reports.
const (
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeNotFound        = "NOT_FOUND"
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeConflict        = "CONFLICT"
	CodeInternal        = "INTERNAL"
	// CodeUnavailable: the node cannot reach its store (Redis down, say).
	// The request did nothing wrong; try again later.
	CodeUnavailable = "UNAVAILABLE"
)

// CodeOf returns the API error code of err, or "" when err is not an API
// error (a network error, say).
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// IsNotFound reports whether err says the task or node does not exist.
func IsNotFound(err error) bool { return CodeOf(err) == CodeNotFound }

// IsUnavailable reports whether err says the node cannot reach its store
// for now: worth retrying later.
func IsUnavailable(err error) bool { return CodeOf(err) == CodeUnavailable }

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

func (g gqlError) err() *Error {
	code, _ := g.Extensions["code"].(string)
	return &Error{Code: code, Message: g.Message}
}

// Do runs a GraphQL operation and decodes its data into out (which may be
// nil). It is the escape hatch for anything the typed methods lack.
func (c *Client) Do(ctx context.Context, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	// The trace of ctx, if the program traces (OpenTelemetry's global
	// propagator; a no-op unless it set one): the task joins it.
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("archivist %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("archivist %s: read response: %w", c.base, err)
	}
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("archivist %s: HTTP %d: %s", c.base, resp.StatusCode, snippet(raw))
	}
	if len(r.Errors) > 0 {
		return r.Errors[0].err()
	}
	if out != nil && len(r.Data) > 0 {
		if err := json.Unmarshal(r.Data, out); err != nil {
			return fmt.Errorf("archivist: decode response: %w", err)
		}
	}
	return nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
