//go:build race

package chaos

// raceEnabled: the test runs under the race detector, and so the archivist
// binary it builds does too (as cmd/archivist's tests build theirs).
const raceEnabled = true
