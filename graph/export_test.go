package graph

import "time"

// SlowEncodes is how many WebSocket messages were left to encoding/json
// (see encodeMessage).
func SlowEncodes() int64 { return slowEncodes.Load() }

// SetMaxOpenWait sets maxOpenWait until the returned function restores it.
func SetMaxOpenWait(d time.Duration) (restore func()) {
	old := maxOpenWait
	maxOpenWait = d
	return func() { maxOpenWait = old }
}
