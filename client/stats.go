package client

import (
	"context"
	"time"
)

// Stats are cluster statistics over a window (the API's ClusterStats).
type Stats struct {
	WindowSeconds     int          `json:"windowSeconds"`
	BucketSeconds     int          `json:"bucketSeconds"`
	ResolutionSeconds int          `json:"resolutionSeconds"`
	From              time.Time    `json:"from"`
	To                time.Time    `json:"to"`
	Series            []StatsPoint `json:"series"`
	Total             StatsPoint   `json:"total"`
	ByType            []TypeStats  `json:"byType"`
	ByNode            []NodeStats  `json:"byNode"`
	ByGroup           []GroupStats `json:"byGroup"`
}

// StatsPoint is one bucket of a stats series.
type StatsPoint struct {
	At        time.Time `json:"at"`
	Submitted int       `json:"submitted"`
	Completed int       `json:"completed"`
	Failed    int       `json:"failed"`
	WaitP50Ms float64   `json:"waitP50Ms"`
	WaitP95Ms float64   `json:"waitP95Ms"`
	RunP50Ms  float64   `json:"runP50Ms"`
	RunP95Ms  float64   `json:"runP95Ms"`
}

// TypeStats sums one task type over the window.
type TypeStats struct {
	Type      string  `json:"type"`
	Completed int     `json:"completed"`
	Failed    int     `json:"failed"`
	WaitP95Ms float64 `json:"waitP95Ms"`
	RunP95Ms  float64 `json:"runP95Ms"`
}

// GroupStats sums one group over the window.
type GroupStats struct {
	Group     string  `json:"group"`
	Submitted int     `json:"submitted"`
	Completed int     `json:"completed"`
	Failed    int     `json:"failed"`
	WaitP95Ms float64 `json:"waitP95Ms"`
	RunP95Ms  float64 `json:"runP95Ms"`
}

// NodeStats sums one node over the window.
type NodeStats struct {
	NodeID        string  `json:"nodeId"`
	Completed     int     `json:"completed"`
	Failed        int     `json:"failed"`
	BusySeconds   float64 `json:"busySeconds"`
	WorkerSeconds float64 `json:"workerSeconds"`
	Utilization   float64 `json:"utilization"`
}

const statsFields = `windowSeconds bucketSeconds resolutionSeconds from to
	series { at submitted completed failed waitP50Ms waitP95Ms runP50Ms runP95Ms }
	total { at submitted completed failed waitP50Ms waitP95Ms runP50Ms runP95Ms }
	byType { type completed failed waitP95Ms runP95Ms }
	byNode { nodeId completed failed busySeconds workerSeconds utilization }
	byGroup { group submitted completed failed waitP95Ms runP95Ms }`

// Stats returns the cluster statistics over the last window, in points of
// bucket; zero values ask for the server's defaults (an hour, about 60
// points).
func (c *Client) Stats(ctx context.Context, window, bucket time.Duration) (*Stats, error) {
	return c.GroupStats(ctx, window, bucket, "")
}

// GroupStats is Stats narrowed to the tasks of one group: the series, the
// total and ByGroup are the group's, ByType and ByNode empty. An empty
// group is the whole cluster.
func (c *Client) GroupStats(ctx context.Context, window, bucket time.Duration, group string) (*Stats, error) {
	vars := map[string]any{}
	if group != "" {
		vars["g"] = group
	}
	if window != 0 {
		vars["w"] = int(window / time.Second)
	}
	if bucket != 0 {
		vars["b"] = int(bucket / time.Second)
	}
	var out struct{ Stats *Stats }
	err := c.Do(ctx, `query($w: Int, $b: Int, $g: String) { stats(windowSeconds: $w, bucketSeconds: $b, group: $g) { `+statsFields+` } }`, vars, &out)
	return out.Stats, err
}
