package discovery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rpg-archivist/archivist"
)

// The TXT record of a node's mDNS advertisement: one "key=value" string per
// field. Values are printable ASCII without '"' or '\' (DNS tools and the
// mDNS library escape those, which would change the signed bytes), and each
// string fits a DNS character-string (255 bytes).
const (
	txtVersion = "1"

	keyTxtvers  = "txtvers"
	keyID       = "id"
	keyCluster  = "cluster"
	keyRole     = "role"
	keyAPI      = "api"
	keyVersion  = "version"
	keyCaps     = "caps"
	keyStore    = "store"
	keyTime     = "ts"
	keySig      = "sig"
	maxTXTItem  = 255
	maxTXTItems = 32
	// sigContext separates these signatures from any other use of the
	// cluster secret.
	sigContext = "archivist-mdns-v1"
)

// Errors of Record.Verify. A record that fails is never admitted.
var (
	ErrUnsigned     = errors.New("record is not signed")
	ErrBadSignature = errors.New("signature does not match (another secret, or the record was altered)")
	ErrStale        = errors.New("timestamp is too old or too far in the future (a replayed record, or a clock far off)")
)

// Record is what a node advertises about itself by mDNS: the content of its
// TXT record. The zero Timestamp and a nil Signature mean unsigned.
type Record struct {
	NodeID  string
	Cluster string
	Role    archivist.NodeRole
	// API is the host:port of the node's HTTP API.
	API          string
	Version      string
	Capabilities []string
	// Store is the store endpoint a joining node should use, without
	// credentials (see store.RedisEndpoint); empty when the node's store is not
	// shared (embedded or memory).
	Store string
	// Extra holds "key=value" items of keys this version does not know, in
	// order: a newer node may add some. They are signed like the rest.
	Extra     []string
	Timestamp time.Time
	Signature []byte
}

// Signed reports whether the record carries a timestamp and a signature.
func (r Record) Signed() bool { return len(r.Signature) > 0 }

// ParseTXT reads the TXT strings of an advertisement into a Record. It is
// pure and strict: an item that is not key=value, a key given twice, a
// value with characters outside printable ASCII, a missing id, cluster or
// role, a store endpoint with credentials: all are errors. It checks no
// signature; see Record.Verify.
func ParseTXT(txt []string) (Record, error) {
	var r Record
	if len(txt) > maxTXTItems {
		return r, fmt.Errorf("%d TXT items, at most %d", len(txt), maxTXTItems)
	}
	seen := map[string]bool{}
	var hasTime, hasVers bool
	for _, item := range txt {
		if item == "" {
			continue // an empty TXT record is one empty string
		}
		if len(item) > maxTXTItem {
			return r, fmt.Errorf("TXT item of %d bytes, at most %d", len(item), maxTXTItem)
		}
		key, val, ok := strings.Cut(item, "=")
		if !ok {
			return r, fmt.Errorf("TXT item %q is not key=value", item)
		}
		if err := checkKey(key); err != nil {
			return r, err
		}
		if seen[key] {
			return r, fmt.Errorf("TXT key %q given twice", key)
		}
		seen[key] = true
		if err := checkValue(key, val); err != nil {
			return r, err
		}
		switch key {
		case keyTxtvers:
			if val != txtVersion {
				return r, fmt.Errorf("txtvers %q: this node reads version %s", val, txtVersion)
			}
			hasVers = true
		case keyID:
			if err := archivist.CheckNodeID(val); err != nil {
				return r, fmt.Errorf("id: %v", err)
			}
			r.NodeID = val
		case keyCluster:
			r.Cluster = val
		case keyRole:
			role := archivist.NodeRole(strings.ToUpper(val))
			if !role.Valid() || val != strings.ToLower(val) {
				return r, fmt.Errorf("role %q is not master, worker or hybrid", val)
			}
			r.Role = role
		case keyAPI:
			if _, _, err := net.SplitHostPort(val); err != nil {
				return r, fmt.Errorf("api %q is not host:port", val)
			}
			r.API = val
		case keyVersion:
			r.Version = val
		case keyCaps:
			r.Capabilities = splitCaps(val)
		case keyStore:
			if err := checkStoreEndpoint(val); err != nil {
				return r, err
			}
			r.Store = val
		case keyTime:
			sec, err := strconv.ParseInt(val, 10, 64)
			if err != nil || sec <= 0 || sec > 1<<40 || strconv.FormatInt(sec, 10) != val {
				return r, fmt.Errorf("ts %q is not a Unix time in seconds", val)
			}
			r.Timestamp = time.Unix(sec, 0).UTC()
			hasTime = true
		case keySig:
			sig, err := base64.RawURLEncoding.Strict().DecodeString(val)
			if err != nil || len(sig) != sha256.Size {
				return r, fmt.Errorf("sig is not a base64url HMAC-SHA256")
			}
			r.Signature = sig
		default:
			r.Extra = append(r.Extra, item)
		}
	}
	switch {
	case !hasVers:
		return r, errors.New("no txtvers: not an archivist record")
	case r.NodeID == "":
		return r, errors.New("no node id")
	case r.Cluster == "":
		return r, errors.New("no cluster name")
	case r.Role == "":
		return r, errors.New("no role")
	case hasTime != (r.Signature != nil):
		return r, errors.New("a timestamp needs a signature and a signature a timestamp")
	}
	slices.Sort(r.Extra)
	return r, nil
}

// TXT encodes the record as TXT strings, txtvers first (RFC 6763 section
// 6.7), then in key order. It is the inverse of ParseTXT.
func (r Record) TXT() []string { return r.items(true) }

func (r Record) items(withSig bool) []string {
	out := []string{keyTxtvers + "=" + txtVersion}
	add := func(k, v string) {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	add(keyAPI, r.API)
	add(keyCaps, strings.Join(r.Capabilities, ","))
	add(keyCluster, r.Cluster)
	add(keyID, r.NodeID)
	add(keyRole, strings.ToLower(string(r.Role)))
	if withSig && len(r.Signature) > 0 {
		add(keySig, base64.RawURLEncoding.EncodeToString(r.Signature))
	}
	add(keyStore, r.Store)
	if !r.Timestamp.IsZero() {
		add(keyTime, strconv.FormatInt(r.Timestamp.Unix(), 10))
	}
	add(keyVersion, r.Version)
	extra := slices.Clone(r.Extra)
	slices.Sort(extra)
	return append(out, extra...)
}

// Validate checks that the record can be advertised: every value within
// the TXT limits and the characters ParseTXT accepts.
func (r Record) Validate() error {
	if r.Signed() || !r.Timestamp.IsZero() {
		r.Timestamp, r.Signature = time.Unix(1, 0), make([]byte, sha256.Size)
	}
	got, err := ParseTXT(r.TXT())
	if err != nil {
		return err
	}
	if !slices.Equal(got.Capabilities, r.Capabilities) {
		return fmt.Errorf("capabilities %q: each must be non-empty, without commas", r.Capabilities)
	}
	return nil
}

// Sign sets the record's timestamp to now and signs it with secret.
func (r *Record) Sign(secret []byte, now time.Time) {
	r.Timestamp = now.Truncate(time.Second).UTC()
	r.Signature = r.mac(secret)
}

// mac is HMAC-SHA256 with the secret over the canonical content: a context
// string, then every TXT item but the signature, one per line, in key
// order. Values hold no newline, so the lines cannot be confused.
func (r Record) mac(secret []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(sigContext))
	for _, item := range r.items(false) {
		h.Write([]byte{'\n'})
		h.Write([]byte(item))
	}
	return h.Sum(nil)
}

// Verify checks the record against the cluster secret: it must be signed,
// with a signature made with that secret over this content, and its
// timestamp within maxAge of now (either way: a replayed old record is
// refused, as is one from a clock far ahead).
func (r Record) Verify(secret []byte, now time.Time, maxAge time.Duration) error {
	if !r.Signed() {
		return ErrUnsigned
	}
	if !hmac.Equal(r.Signature, r.mac(secret)) {
		return ErrBadSignature
	}
	if d := now.Sub(r.Timestamp); d > maxAge || d < -maxAge {
		return fmt.Errorf("%w: signed %s ago, at most %s allowed", ErrStale, d.Round(time.Second), maxAge)
	}
	return nil
}

// checkStoreEndpoint checks the form of an advertised store endpoint:
// scheme://hosts[/path] with no credentials or parameters. Which schemes
// name a shared store is the store's knowledge (store.RedisEndpoint makes
// the value, store.IsRedisURL is checked by the node that joins).
func checkStoreEndpoint(v string) error {
	scheme, rest, ok := strings.Cut(v, "://")
	if !ok || scheme == "" || scheme != strings.ToLower(scheme) {
		return fmt.Errorf("store %q is not scheme://host", v)
	}
	authority, _, _ := strings.Cut(rest, "/")
	switch {
	case authority == "":
		return fmt.Errorf("store %q has no host", v)
	case strings.ContainsAny(rest, "@?#"):
		return fmt.Errorf("store endpoint must carry no credentials or parameters")
	}
	return nil
}

func checkKey(k string) error {
	if k == "" || len(k) > 9 {
		return fmt.Errorf("TXT key %q: 1 to 9 characters", k)
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return fmt.Errorf("TXT key %q: only a-z, 0-9 and -", k)
		}
	}
	return nil
}

func checkValue(k, v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return fmt.Errorf("TXT value of %q has a character outside printable ASCII or a quote or backslash", k)
		}
	}
	return nil
}

func splitCaps(s string) []string {
	var out []string
	for _, c := range strings.Split(s, ",") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}
