package store

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ParseRedisURL turns a --store URL into options for redis.NewUniversalClient:
//
//	redis://[user:pass@]host[:port][/db]                   one server
//	rediss://[user:pass@]host[:port][/db]                  one server over TLS
//	redis+sentinel://[user:pass@]host:port,host:port/mastername[/db]
//	redis+cluster://[user:pass@]host:port,host:port,...    Redis Cluster
//
// rediss+sentinel:// and rediss+cluster:// are the TLS forms of the last two.
// The port defaults to 6379 (26379 for Sentinel). user:pass authenticate at
// the Redis servers (for Sentinel: at the master and replicas; the query
// parameters sentinel_username and sentinel_password authenticate at the
// sentinels). Special characters in user, password or master name must be
// percent-encoded. TLS takes the query parameters ca=PATH (a PEM file of CA
// certificates to trust instead of the system's), cert=PATH and key=PATH (a
// client certificate) and insecure_skip_verify=true. Any URL takes
// wait_replicas=N and wait_timeout=DURATION (see RedisOptions.WaitReplicas;
// ParseRedisURL checks them, OpenRedis applies them).
func ParseRedisURL(raw string) (*redis.UniversalOptions, error) {
	o, _, err := parseRedisURL(raw)
	return o, err
}

// parseRedisURL is ParseRedisURL that also returns the durability the URL
// asks for (wait_replicas, wait_timeout).
func parseRedisURL(raw string) (*redis.UniversalOptions, redisDurability, error) {
	var dur redisDurability
	o, err := parseRedisURLInto(raw, &dur)
	return o, dur, err
}

func parseRedisURLInto(raw string, dur *redisDurability) (*redis.UniversalOptions, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("redis URL %s: %s", redactURL(raw), fmt.Sprintf(format, args...))
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, bad("no scheme: use redis://host:port, rediss://, redis+sentinel:// or redis+cluster://")
	}
	var useTLS, sentinel, cluster bool
	switch strings.ToLower(scheme) {
	case "redis":
	case "rediss":
		useTLS = true
	case "redis+sentinel":
		sentinel = true
	case "rediss+sentinel":
		sentinel, useTLS = true, true
	case "redis+cluster":
		cluster = true
	case "rediss+cluster":
		cluster, useTLS = true, true
	default:
		return nil, bad("unknown scheme %q: use redis, rediss, redis+sentinel or redis+cluster", scheme)
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		return nil, bad("a fragment (#...) has no meaning here")
	}
	authority, path, _ := strings.Cut(rest, "/")
	o := &redis.UniversalOptions{}

	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		userinfo := authority[:at]
		authority = authority[at+1:]
		user, pass, hasPass := strings.Cut(userinfo, ":")
		var err error
		if o.Username, err = url.PathUnescape(user); err != nil {
			return nil, bad("user name is not properly percent-encoded")
		}
		if hasPass {
			if o.Password, err = url.PathUnescape(pass); err != nil {
				return nil, bad("password is not properly percent-encoded")
			}
		}
	}

	defaultPort := "6379"
	if sentinel {
		defaultPort = "26379"
	}
	if authority == "" {
		return nil, bad("no host")
	}
	hosts := strings.Split(authority, ",")
	if len(hosts) > 1 && !sentinel && !cluster {
		return nil, bad("several hosts need redis+sentinel:// or redis+cluster://")
	}
	for _, h := range hosts {
		addr, err := hostPort(h, defaultPort)
		if err != nil {
			return nil, bad("%v", err)
		}
		o.Addrs = append(o.Addrs, addr)
	}

	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) == 1 && segs[0] == "" {
		segs = nil
	}
	parseDB := func(s string) error {
		db, err := strconv.Atoi(s)
		if err != nil || db < 0 {
			return bad("database %q is not a number of 0 or more", s)
		}
		o.DB = db
		return nil
	}
	switch {
	case sentinel:
		if len(segs) == 0 || segs[0] == "" {
			return nil, bad("no master name: use redis+sentinel://host:port,host:port/mastername[/db]")
		}
		if len(segs) > 2 {
			return nil, bad("path /%s has more than mastername/db", strings.Trim(path, "/"))
		}
		name, err := url.PathUnescape(segs[0])
		if err != nil {
			return nil, bad("master name is not properly percent-encoded")
		}
		o.MasterName = name
		if len(segs) == 2 {
			if err := parseDB(segs[1]); err != nil {
				return nil, err
			}
		}
	case cluster:
		if len(segs) > 1 || (len(segs) == 1 && segs[0] != "0") {
			return nil, bad("Redis Cluster has only database 0; remove the path /%s", strings.Trim(path, "/"))
		}
		o.IsClusterMode = true
	default:
		if len(segs) > 1 {
			return nil, bad("path /%s: only a database number may follow the host", strings.Trim(path, "/"))
		}
		if len(segs) == 1 {
			if err := parseDB(segs[0]); err != nil {
				return nil, err
			}
		}
	}

	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, bad("query: %v", err)
	}
	var ca, cert, key string
	insecure := false
	for name, vals := range q {
		v := vals[len(vals)-1]
		switch name {
		case "ca":
			ca = v
		case "cert":
			cert = v
		case "key":
			key = v
		case "insecure_skip_verify":
			if insecure, err = strconv.ParseBool(v); err != nil {
				return nil, bad("insecure_skip_verify=%q is not true or false", v)
			}
		case "sentinel_username", "sentinel_password":
			if !sentinel {
				return nil, bad("%s is for redis+sentinel:// URLs", name)
			}
			if name == "sentinel_username" {
				o.SentinelUsername = v
			} else {
				o.SentinelPassword = v
			}
		case "wait_replicas":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > maxWaitReplicas {
				return nil, bad("wait_replicas=%q is not a number from 0 to %d", v, maxWaitReplicas)
			}
			dur.replicas = n
		case "wait_timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Millisecond || d > maxWaitTimeout {
				return nil, bad("wait_timeout=%q is not a duration from 1ms to %s (such as 500ms or 2s)", v, maxWaitTimeout)
			}
			dur.timeout = d
		default:
			return nil, bad("unknown parameter %q (known: ca, cert, key, insecure_skip_verify, sentinel_username, sentinel_password, wait_replicas, wait_timeout)", name)
		}
		if !useTLS && (name == "ca" || name == "cert" || name == "key" || name == "insecure_skip_verify") {
			return nil, bad("%s needs TLS: use rediss://", name)
		}
	}
	if dur.timeout != 0 && dur.replicas == 0 {
		return nil, bad("wait_timeout needs wait_replicas=N (N of 1 or more)")
	}
	if useTLS {
		host, _, _ := net.SplitHostPort(o.Addrs[0])
		cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // asked for by the URL
		if ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return nil, bad("read CA file: %v", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, bad("CA file %s holds no PEM certificate", ca)
			}
			cfg.RootCAs = pool
		}
		if (cert == "") != (key == "") {
			return nil, bad("a client certificate needs both cert=PATH and key=PATH")
		}
		if cert != "" {
			pair, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return nil, bad("load client certificate: %v", err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		o.TLSConfig = cfg
	}
	return o, nil
}

// hostPort checks one host[:port] of a URL and adds the default port.
func hostPort(h, defaultPort string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("empty host in the host list")
	}
	host, port := h, defaultPort
	if strings.HasPrefix(h, "[") { // [IPv6]:port
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", fmt.Errorf("host %q: missing ]", h)
		}
		host = h[1:end]
		if after := h[end+1:]; after != "" {
			if !strings.HasPrefix(after, ":") {
				return "", fmt.Errorf("host %q: junk after ]", h)
			}
			port = after[1:]
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		host, port = h[:i], h[i+1:]
	}
	if host == "" {
		return "", fmt.Errorf("host %q has no host name", h)
	}
	if strings.ContainsAny(host, "/@ ") {
		return "", fmt.Errorf("host %q is not a host name", host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port %q of host %s is not a number from 1 to 65535", port, host)
	}
	return net.JoinHostPort(host, port), nil
}

// redisSchemes are the beginnings of the --store values that name a Redis
// store: the schemes ParseRedisURL takes, in lower case.
var redisSchemes = []string{"redis://", "rediss://", "redis+sentinel://", "redis+cluster://", "rediss+sentinel://", "rediss+cluster://"}

// IsRedisURL reports whether a --store value names a Redis store (one to
// open with OpenRedis) rather than one Open takes: whether it starts with a
// scheme of ParseRedisURL, in lower case.
func IsRedisURL(spec string) bool {
	for _, p := range redisSchemes {
		if strings.HasPrefix(spec, p) {
			return true
		}
	}
	return false
}

// RedisEndpoint is a --store value as a node advertises it for others to
// join (mDNS): scheme, hosts and path of a Redis URL, without user name,
// password or query (whose TLS file paths are local to this node). Other
// stores are not shared and give "".
func RedisEndpoint(spec string) string {
	scheme, rest, ok := strings.Cut(spec, "://")
	if !ok || !IsRedisURL(strings.ToLower(scheme)+"://") {
		return ""
	}
	rest, _, _ = strings.Cut(rest, "?")
	rest, _, _ = strings.Cut(rest, "#")
	authority, path, hasPath := strings.Cut(rest, "/")
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		authority = authority[at+1:]
	}
	out := strings.ToLower(scheme) + "://" + authority
	if hasPath {
		out += "/" + path
	}
	return out
}

// RedactURL is a --store value fit for logs and error messages: a Redis
// URL with its passwords (in the userinfo and the sentinel_password
// parameter) masked; any other value as it is.
func RedactURL(spec string) string {
	if !IsRedisURL(spec) {
		return spec
	}
	return redactURL(spec)
}

// WithRedisPassword puts password into a Redis URL that has none, so that
// a password need not be part of --store (or of the endpoint a peer
// advertises, which never carries one). A URL with its own password keeps
// it, a user name in the URL stays; a value that is not a Redis URL, or an
// empty password, leaves spec as it is.
func WithRedisPassword(spec, password string) string {
	if password == "" || !IsRedisURL(spec) {
		return spec
	}
	scheme, rest, _ := strings.Cut(spec, "://")
	authority, tail, hasTail := strings.Cut(rest, "/")
	user := ""
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		userinfo := authority[:at]
		if strings.Contains(userinfo, ":") {
			return spec // the URL's own password wins
		}
		user, authority = userinfo, authority[at+1:]
	}
	out := scheme + "://" + user + ":" + escapeUserinfo(password) + "@" + authority
	if hasTail {
		out += "/" + tail
	}
	return out
}

// escapeUserinfo percent-encodes every byte of s but the unreserved ones,
// so that any password survives ParseRedisURL's unescaping.
func escapeUserinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// RedisURLHosts returns the host names (or IP addresses, without brackets)
// of the servers a Redis URL lists, in order, without ports, user or
// password; nil when raw has no scheme. It does not check the URL
// (ParseRedisURL does): discovery uses it on the endpoints peers advertise
// to tell whether a store is reachable only from the peer's own machine.
func RedisURLHosts(raw string) []string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		authority = authority[at+1:]
	}
	var hosts []string
	for _, hp := range strings.Split(authority, ",") {
		host, _, err := net.SplitHostPort(hp)
		if err != nil {
			host = strings.TrimSuffix(strings.TrimPrefix(hp, "["), "]")
		}
		hosts = append(hosts, host)
	}
	return hosts
}

// redactURL hides the passwords of raw (in the userinfo and the
// sentinel_password parameter) for error messages and logs.
func redactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if !strings.Contains(authority, "@") {
		// A password with an unencoded / or ? (a URL that does not parse):
		// mask up to the last @ rather than show it.
		if at := strings.LastIndexByte(rest, '@'); at >= 0 && strings.Contains(rest[:at], ":") {
			user, _, _ := strings.Cut(rest[:at], ":")
			return scheme + "://" + user + ":xxxxx@" + rest[at+1:]
		}
	}
	if path, query, ok := strings.Cut(tail, "?"); ok {
		params := strings.Split(query, "&")
		for i, p := range params {
			if name, _, _ := strings.Cut(p, "="); name == "sentinel_password" {
				params[i] = name + "=xxxxx"
			}
		}
		tail = path + "?" + strings.Join(params, "&")
	}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		if user, _, hasPass := strings.Cut(authority[:at], ":"); hasPass {
			authority = user + ":xxxxx@" + authority[at+1:]
		}
	}
	return scheme + "://" + authority + tail
}
