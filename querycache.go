package archivist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
)

// MaxPersistedQueryBytes bounds the text of a persisted query: a QueryCache
// refuses a longer one. Inputs travel in variables, so real queries are a
// few kilobytes.
const MaxPersistedQueryBytes = 64 << 10

// QueryCache keeps the text of GraphQL queries by the hex SHA-256 of the
// text the client sent, for automatic persisted queries: a client sends the
// hash alone and the full query only when the server does not know it. The
// text kept may be a normal form of the one sent (the same query without
// its comments and blanks), so a store cannot check the hash against it:
// the caller has (see CheckPersistedQuery). Each implementation bounds the
// bytes it keeps. A store may
// implement it (the Redis store does, so that a query registered through
// one node is known on every node of the cluster). Entries may be evicted or
// expire at any time: a miss costs the client one more round trip, never an
// error. Safe for concurrent use.
type QueryCache interface {
	// GetQuery returns the query stored under hash; ok is false when there
	// is none (a hash that is not 64 lower-case hex digits never matches).
	// Using an entry may extend its life.
	GetQuery(ctx context.Context, hash string) (query string, ok bool, err error)
	// PutQuery stores query under hash, evicting others beyond the
	// store's budget. The hash must have the form of a QueryHash (the
	// caller has checked it against the text the client sent, of which
	// query is the text or a normal form) and the query be at most
	// MaxPersistedQueryBytes long, else BAD_USER_INPUT (see
	// CheckPersistedQuery).
	PutQuery(ctx context.Context, hash, query string) error
}

// QueryHash is the key of a query in a QueryCache: the lower-case hex
// SHA-256 of its text, as clients of automatic persisted queries compute it.
func QueryHash(query string) string {
	h := sha256.Sum256([]byte(query))
	return hex.EncodeToString(h[:])
}

// ValidQueryHash reports whether hash has the form of a QueryHash.
func ValidQueryHash(hash string) bool {
	if len(hash) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(hash); i++ {
		if c := hash[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// CheckPersistedQuery returns the BAD_USER_INPUT error PutQuery gives for a
// query too long, empty, or a hash that is not of the form of a QueryHash,
// or nil. That the hash is the SHA-256 of the text the client sent is the
// caller's to check, before it normalises the text.
func CheckPersistedQuery(hash, query string) error {
	if len(query) > MaxPersistedQueryBytes {
		return Errorf(CodeBadUserInput, "persisted query is %d bytes; the limit is %d", len(query), MaxPersistedQueryBytes)
	}
	if query == "" {
		return Errorf(CodeBadUserInput, "persisted query is empty")
	}
	if !ValidQueryHash(hash) {
		return Errorf(CodeBadUserInput, "persisted query hash is not a lower-case hex SHA-256")
	}
	return nil
}
