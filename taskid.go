package archivist

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"time"
)

// idEncoding is Crockford's base32 in lower case: no I, L, O or U, so an id
// read aloud or copied by hand is not mistaken for another.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a new task id: time-ordered (milliseconds) with 64 random
// bits, in lower-case Crockford base32. Every store names the tasks it is
// given without an id this way, so ids look alike whichever store made them.
func NewID(now time.Time) string {
	var b [14]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	return idEncoding.EncodeToString(b[:])
}
