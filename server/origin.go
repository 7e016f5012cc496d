package server

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/auth"
)

// CheckOriginPattern reports whether p is a usable --allowed-origins entry:
// an origin (https://app.example.com) or a host, either with path.Match
// wildcards, but not a bare "*".
func CheckOriginPattern(p string) error {
	if strings.Trim(p, "*") == "" || p == "*://*" {
		return fmt.Errorf("%q would allow every web site to call the API with its visitors' browsers; list the origins", p)
	}
	if _, err := path.Match(strings.ToLower(p), ""); err != nil {
		return fmt.Errorf("%q: %v", p, err)
	}
	if strings.Contains(p, "/") && !strings.Contains(p, "://") {
		return fmt.Errorf("%q: an origin is scheme://host[:port], with no path", p)
	}
	if scheme, rest, ok := strings.Cut(p, "://"); ok && (scheme == "" || rest == "" || strings.Contains(rest, "/")) {
		return fmt.Errorf("%q: an origin is scheme://host[:port], with no path", p)
	}
	return nil
}

// originAllowed reports whether a browser request from origin may use the
// API: the node's own origin (the request's Host) always may, others when
// they match a pattern. Patterns with "://" match "scheme://host", others
// the host (as github.com/coder/websocket does for WebSockets).
//
// The node's own origin is compared by scheme, host and port (a default
// port spelled out or not): scheme is "https" when the node serves TLS (or
// a proxy in front says so with X-Forwarded-Proto, which a web page cannot
// set on a cross-site request without a preflight this check refuses).
func originAllowed(patterns []string, origin, scheme, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if sameOrigin(u, scheme, host) {
		return true
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(target)); ok {
			return true
		}
	}
	return false
}

// sameOrigin reports whether origin u is scheme://host, host being a Host
// header (its port may be left out when it is the scheme's default).
func sameOrigin(u *url.URL, scheme, host string) bool {
	if !strings.EqualFold(u.Scheme, scheme) {
		return false
	}
	name, port := splitHostDefault(host, scheme)
	oname, oport := splitHostDefault(u.Host, u.Scheme)
	return strings.EqualFold(name, oname) && port == oport
}

// splitHostDefault splits host[:port], the port defaulting to the scheme's.
func splitHostDefault(hostport, scheme string) (host, port string) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), ""
	}
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "ws": "80", "wss": "443"}[strings.ToLower(scheme)]
	}
	return host, port
}

// requestScheme is the scheme a browser used to reach the node: https when
// the node serves TLS, or when a proxy in front of it says so.
func requestScheme(r *http.Request) string {
	if r.TLS != nil || strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https") {
		return "https"
	}
	return "http"
}

// withOrigins guards an API handler against other web sites: a request that
// a browser sends from a foreign origin is refused (403), unless the origin
// is allowed, in which case it gets CORS headers (and preflights are
// answered). A browser leaves Origin out of a no-cors GET (an <img src>, a
// link) but says where it comes from in Sec-Fetch-Site: without an Origin
// to check, a request from another site (cross-site, or same-site: another
// host of the same site) is refused. Requests without either header (curl,
// programs), and those a browser marks same-origin or none (typed in the
// address bar), pass.
func withOrigins(next http.Handler, patterns []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			if site := strings.ToLower(r.Header.Get("Sec-Fetch-Site")); site == "cross-site" || site == "same-site" {
				writeJSON(w, http.StatusForbidden, errorBody("FORBIDDEN",
					fmt.Sprintf("a %s request without an Origin header may not call this API; a page of an origin allowed with --allowed-origins calls it with fetch (CORS)", site)))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if !originAllowed(patterns, origin, requestScheme(r), r.Host) {
			writeJSON(w, http.StatusForbidden, errorBody("FORBIDDEN",
				fmt.Sprintf("origin %s may not call this API (this node is %s://%s); allow it with --allowed-origins, or, behind a TLS proxy, have the proxy send X-Forwarded-Proto: https",
					archivist.Clip(origin), requestScheme(r), archivist.Clip(r.Host))))
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// withLoopbackHosts refuses requests whose Host is not a loopback name or
// address. A node without authentication listens only on loopback; this
// also stops a web page from reaching it through a DNS name rebound to
// 127.0.0.1.
func withLoopbackHosts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !LoopbackHost(r.Host) {
			writeJSON(w, http.StatusMisdirectedRequest, errorBody("FORBIDDEN",
				fmt.Sprintf("host %q is not a loopback name: this node has no API keys and answers only to localhost, 127.0.0.1 or [::1]", archivist.Clip(r.Host))))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// LoopbackHost reports whether a Host header (or a host:port to listen on)
// names loopback: the name localhost or a literal loopback IP, with or
// without a port. Names under .localhost are not: the system resolver may
// send them to DNS, which can answer any address.
func LoopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// errorBody is a GraphQL-shaped error response.
func errorBody(code, msg string) any {
	return map[string]any{"errors": []map[string]any{{"message": msg, "extensions": map[string]string{"code": code}}}}
}

// contentSecurityPolicy is the CSP of every response. The dashboard and
// the playground are built into the binary: their scripts, workers, styles,
// fonts and images come from the node itself ('self'; the fonts and icons
// that the build inlines, from data: URLs), and they talk to this node only
// (connect-src 'self' covers its ws:// and wss:// too). Inline styles stay
// allowed: the playground's editor (Monaco) adds <style> elements as it
// runs. No inline or foreign script, no plugin, no framing by other sites
// (the dashboard has buttons worth clickjacking).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; worker-src 'self'; " +
	"style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// withSecurityHeaders sets the headers every response gets: the CSP above,
// no framing by other sites, no MIME sniffing, no referrer beyond this
// origin.
func withSecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// withKey lets through requests that carry a valid API key (any role) as
// Authorization: Bearer; others get 401.
func withKey(next http.Handler, keys *auth.Keyring) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if keys.Authenticate(auth.BearerToken(r.Header.Get("Authorization"))) == auth.None {
			w.Header().Set("WWW-Authenticate", `Bearer realm="archivist"`)
			writeJSON(w, http.StatusUnauthorized, errorBody("UNAUTHENTICATED",
				"missing or invalid API key: send Authorization: Bearer KEY (any role), or start the node with --public-metrics"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
