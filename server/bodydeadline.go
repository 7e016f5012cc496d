package server

import (
	"net/http"
	"time"
)

// DefaultBodyTimeout is how long a client has to send a request body once
// its headers are in (Config.BodyTimeout): 2 MiB, the largest /graphql
// body, at a slow 100 KB/s takes 20 s.
const DefaultBodyTimeout = 30 * time.Second

// withBodyDeadline gives the body of each request that has one a read
// deadline of d from when its handler starts, so that a client sending a
// body slowly (or not at all) cannot hold a connection and a goroutine for
// ever; a read past it fails with an error that wraps
// os.ErrDeadlineExceeded. Once the body has been read to its end, net/http
// lifts the deadline itself as it starts reading the connection in the
// background (to notice a client that leaves), so a slow answer is not
// cut. Requests without a body (GET, WebSocket upgrades) are untouched: a
// WebSocket lives long, and http.Server.ReadTimeout would cut it.
func withBodyDeadline(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			// A writer that cannot (a recorder in tests) leaves no deadline.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		}
		h.ServeHTTP(w, r)
	})
}
