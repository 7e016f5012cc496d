package graph

// SlowEncodes is how many WebSocket messages were left to encoding/json
// (see encodeMessage).
func SlowEncodes() int64 { return slowEncodes.Load() }
