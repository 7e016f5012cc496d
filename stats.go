package archivist

import (
	"time"
)

// Cluster statistics are rollups the store keeps per time bucket, written
// by the same atomic operations that change tasks and nodes: submissions by
// CreateTasks, outcomes by CompleteTask, FailTask and RecoverExpired, worker
// time by Heartbeat. They are bounded whatever the load: two resolutions,
// each kept for a fixed time, a fixed set of latency bins, and at most
// MaxStatsTypes task types, MaxStatsNodes nodes and MaxStatsGroups groups
// per bucket (the rest are counted under StatsOther).
const (
	// StatsFineResolution is the bucket of the fine rollups, kept for
	// StatsFineRetention: windows up to that long read them.
	StatsFineResolution = 10 * time.Second
	StatsFineRetention  = time.Hour
	// StatsCoarseResolution is the bucket of the coarse rollups, kept for
	// MaxStatsWindow: longer windows read them.
	StatsCoarseResolution = 5 * time.Minute
	// MaxStatsWindow is the longest window a stats query may ask for.
	MaxStatsWindow = 24 * time.Hour
	// DefaultStatsWindow is the window of a query that gives none.
	DefaultStatsWindow = time.Hour
	// StatsPoints is about how many points a query that gives no bucket gets.
	StatsPoints = 60
	// MaxStatsTypes and MaxStatsNodes bound the distinct task types and
	// nodes one bucket counts; the others are counted under StatsOther.
	MaxStatsTypes = 50
	MaxStatsNodes = 100
	// MaxStatsGroups bounds the distinct groups (Task.Group) one bucket
	// counts; the others are counted under StatsOther. Tasks without a
	// group are in no group's figures.
	MaxStatsGroups = 100
	// StatsOther names the task types, nodes or groups beyond the bounds.
	StatsOther = "(other)"
)

// StatsQuery asks for cluster statistics over the last Window, in points
// of Bucket. Zero values mean the defaults (see Normalize).
type StatsQuery struct {
	Window time.Duration
	Bucket time.Duration
	// Group, when set, narrows the figures to the tasks of one group: the
	// series, the total and ByGroup are that group's; ByType and ByNode
	// are empty (the rollups do not cross groups with types or nodes).
	Group string
}

// Normalize fills in the defaults and checks the query: the window is at
// most MaxStatsWindow and at least one resolution; the bucket is a multiple
// of the resolution the window reads (StatsFineResolution for windows up to
// StatsFineRetention, StatsCoarseResolution beyond) and no longer than the
// window. The default bucket gives about StatsPoints points. It returns the
// query and the resolution it reads, or a BAD_USER_INPUT error.
func (q StatsQuery) Normalize() (StatsQuery, time.Duration, error) {
	if err := CheckGroup(q.Group); err != nil {
		return q, 0, err
	}
	if q.Window == 0 {
		q.Window = DefaultStatsWindow
	}
	if q.Window < StatsFineResolution || q.Window > MaxStatsWindow {
		return q, 0, Errorf(CodeBadUserInput, "the stats window must be between %d and %d seconds, not %d",
			int(StatsFineResolution.Seconds()), int(MaxStatsWindow.Seconds()), int64(q.Window.Seconds()))
	}
	res := StatsFineResolution
	if q.Window > StatsFineRetention {
		res = StatsCoarseResolution
	}
	if q.Bucket == 0 {
		per := (q.Window + StatsPoints - 1) / StatsPoints
		q.Bucket = (per + res - 1) / res * res
	}
	if q.Bucket < 0 || q.Bucket%res != 0 {
		return q, 0, Errorf(CodeBadUserInput,
			"the stats bucket must be a multiple of %d seconds for a window of %d seconds (the store keeps %s rollups for windows up to %s, %s rollups beyond), not %d seconds",
			int(res.Seconds()), int64(q.Window.Seconds()), StatsFineResolution, StatsFineRetention, StatsCoarseResolution, int64(q.Bucket.Seconds()))
	}
	if q.Bucket > q.Window {
		return q, 0, Errorf(CodeBadUserInput, "the stats bucket (%d seconds) must not be longer than the window (%d seconds)",
			int64(q.Bucket.Seconds()), int64(q.Window.Seconds()))
	}
	return q, res, nil
}

// Stats are cluster statistics over a window, from the store's rollups, so
// that every node of a cluster answers the same.
type Stats struct {
	// Window and Bucket are those of the query after defaults; Resolution
	// is the rollup it read.
	Window     time.Duration
	Bucket     time.Duration
	Resolution time.Duration
	// From is the start of the first point, To the end of the last one
	// (which holds the store's now).
	From time.Time
	To   time.Time
	// Series has one point per bucket, oldest first, empty ones included.
	Series []StatsPoint
	// Total sums the whole window (At is From), its percentiles over all
	// the tasks that ended in it.
	Total StatsPoint
	// ByType sums the window per task type, most ended first; ByNode per
	// node, by id; ByGroup per group, most ended first (then most
	// submitted).
	ByType  []TypeStats
	ByNode  []NodeStats
	ByGroup []GroupStats
}

// StatsPoint is one bucket of a stats series. Wait is from submission to
// the start of the attempt that ended the task (so it includes earlier
// attempts and backoffs); run is from that start to the end. Latencies are
// of the tasks that ended in the bucket; zero when none did.
type StatsPoint struct {
	At        time.Time
	Submitted int64
	Completed int64
	Failed    int64
	WaitP50   time.Duration
	WaitP95   time.Duration
	RunP50    time.Duration
	RunP95    time.Duration
}

// TypeStats sums one task type over a window.
type TypeStats struct {
	Type      string
	Completed int64
	Failed    int64
	WaitP95   time.Duration
	RunP95    time.Duration
}

// GroupStats sums one group (Task.Group) over a window.
type GroupStats struct {
	Group     string
	Submitted int64
	Completed int64
	Failed    int64
	WaitP95   time.Duration
	RunP95    time.Duration
}

// NodeStats sums one node over a window. BusyTime is the run time of every
// attempt that ended on the node (retried and timed out ones included);
// WorkerTime is its workers times the time it was up, from its heartbeats.
type NodeStats struct {
	NodeID     string
	Completed  int64
	Failed     int64
	BusyTime   time.Duration
	WorkerTime time.Duration
	// Utilization is BusyTime over WorkerTime, at most 1 (0 without
	// worker time).
	Utilization float64
}
