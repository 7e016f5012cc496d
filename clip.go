package archivist

import "unicode/utf8"

// MaxEchoBytes bounds how much of a caller's value an error message quotes:
// an error about a megabyte input must not send (or log) the megabyte back.
const MaxEchoBytes = 200

// Clip returns s cut to MaxEchoBytes on a character boundary, with "…"
// added when it was cut, for quoting user input in messages.
func Clip(s string) string {
	if len(s) <= MaxEchoBytes {
		return s
	}
	n := MaxEchoBytes
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
