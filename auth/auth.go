// Package auth is API authentication: API keys with roles, kept only as
// SHA-256 hashes, and the role of a request carried in its context.
//
// Roles nest: a viewer reads (queries, subscriptions); an operator also
// submits, cancels and retries tasks and drains and resumes nodes; an admin
// also changes the configuration and removes nodes.
package auth

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// Role is what a key may do. The zero Role is no access.
type Role int

// Roles, each including the ones before.
const (
	None Role = iota
	Viewer
	Operator
	Admin
)

func (r Role) String() string {
	switch r {
	case Viewer:
		return "viewer"
	case Operator:
		return "operator"
	case Admin:
		return "admin"
	}
	return "none"
}

// ParseRole reads viewer, operator or admin.
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "viewer":
		return Viewer, nil
	case "operator":
		return Operator, nil
	case "admin":
		return Admin, nil
	}
	return None, fmt.Errorf("role %q: use viewer, operator or admin", s)
}

// KeyPrefix starts every key NewKey makes, so that keys are easy to spot
// (and to scan for in leaked text).
const KeyPrefix = "arch_"

var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewKey makes a random key (32 bytes of entropy) and the line that admits
// it, as "ROLE sha256:HEX": the key is shown once, only its hash is stored.
func NewKey(role Role) (key, entry string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	key = KeyPrefix + keyEncoding.EncodeToString(b[:])
	return key, role.String() + " sha256:" + Hash(key)
}

// Hash is the hex SHA-256 of a key.
func Hash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// Keyring holds the admitted keys by hash. The zero Keyring (no keys) means
// authentication is off.
type Keyring struct {
	mu     sync.RWMutex
	byHash map[string]entry
	// onReplace run after each Replace (see OnReplace).
	onReplace []func()
}

type entry struct {
	role Role
	name string
}

// Len is how many keys are admitted.
func (k *Keyring) Len() int {
	if k == nil {
		return 0
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.byHash)
}

// Replace admits exactly the keys of from from now on (a reload of the
// keys file): requests and operations that start later are checked against
// them.
func (k *Keyring) Replace(from *Keyring) {
	from.mu.RLock()
	m := from.byHash
	from.mu.RUnlock()
	k.mu.Lock()
	k.byHash = m
	hooks := append([]func(){}, k.onReplace...)
	k.mu.Unlock()
	for _, f := range hooks {
		f()
	}
}

// OnReplace registers f to run after every Replace, once the new keys are in
// force: what holds a key beyond one request (a WebSocket) checks it again.
func (k *Keyring) OnReplace(f func()) {
	k.mu.Lock()
	k.onReplace = append(k.onReplace, f)
	k.mu.Unlock()
}

// Admits reports whether the key whose Hash is hash is still admitted, and
// with which role.
func (k *Keyring) Admits(hash string) (Role, bool) {
	if k == nil || hash == "" {
		return None, false
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	e, ok := k.byHash[hash]
	return e.role, ok
}

// Add admits a key entry: "ROLE sha256:HEX [NAME]" (a stored hash) or
// "ROLE:KEY" (a key in clear, hashed at once; convenient in tests and
// environments that hold secrets already).
func (k *Keyring) Add(line string) error {
	line = strings.TrimSpace(line)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.byHash == nil {
		k.byHash = map[string]entry{}
	}
	fields := strings.Fields(line)
	if len(fields) >= 2 && strings.HasPrefix(fields[1], "sha256:") {
		role, err := ParseRole(fields[0])
		if err != nil {
			return err
		}
		h := strings.ToLower(strings.TrimPrefix(fields[1], "sha256:"))
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("key entry for %s: sha256 must be 64 hex digits", role)
		}
		k.byHash[h] = entry{role: role, name: strings.Join(fields[2:], " ")}
		return nil
	}
	roleS, key, ok := strings.Cut(line, ":")
	if !ok || len(fields) != 1 {
		return fmt.Errorf("key entry: want ROLE sha256:HEX [NAME] or ROLE:KEY")
	}
	role, err := ParseRole(roleS)
	if err != nil {
		return err
	}
	if len(key) < 16 {
		return fmt.Errorf("key entry for %s: a key must be at least 16 characters", role)
	}
	k.byHash[Hash(key)] = entry{role: role}
	return nil
}

// AddList admits comma-separated entries (the --api-keys flag).
func (k *Keyring) AddList(list string) error {
	for _, e := range strings.Split(list, ",") {
		if strings.TrimSpace(e) == "" {
			continue
		}
		if err := k.Add(e); err != nil {
			return err
		}
	}
	return nil
}

// AddFile admits the entries of a file, one per line; blank lines and lines
// starting with # are skipped.
func (k *Keyring) AddFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return k.addReader(f, path)
}

func (k *Keyring) addReader(r io.Reader, name string) error {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := k.Add(line); err != nil {
			return fmt.Errorf("%s:%d: %v", name, n, err)
		}
	}
	return sc.Err()
}

// Authenticate returns the role of a key, or None.
func (k *Keyring) Authenticate(key string) Role {
	if k == nil || key == "" {
		return None
	}
	k.mu.RLock()
	e, ok := k.byHash[Hash(key)]
	k.mu.RUnlock()
	if !ok {
		return None
	}
	return e.role
}

type ctxKey struct{}

// Principal is who a request is: its role, and whether it presented a key.
type Principal struct {
	Role Role
	// Authenticated is false when no valid key came with the request.
	Authenticated bool
	// AuthOff is true when the node runs without keys: everything is allowed.
	AuthOff bool
	// KeyHash is the Hash of the valid key presented, else empty: it tells
	// callers apart (per-key rate limits) without holding the key itself.
	KeyHash string
}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From returns the principal of ctx (no access when none was set).
func From(ctx context.Context) Principal {
	p, _ := ctx.Value(ctxKey{}).(Principal)
	return p
}

// BearerToken returns the token of an "Authorization: Bearer X" value.
func BearerToken(header string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// Resolve turns a presented token into a principal under keyring k.
func (k *Keyring) Resolve(token string) Principal {
	if k.Len() == 0 {
		return Principal{Role: Admin, AuthOff: true}
	}
	r := k.Authenticate(token)
	if r == None {
		return Principal{}
	}
	return Principal{Role: r, Authenticated: true, KeyHash: Hash(token)}
}
