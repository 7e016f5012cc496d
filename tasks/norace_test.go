//go:build !race

package tasks

// raceEnabled is set under the race detector, which makes pixel loops some
// ten times slower: tests then use smaller images.
const raceEnabled = false
