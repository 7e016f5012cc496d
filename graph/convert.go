package graph

import (
	"math"
	"strconv"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph/model"
)

// Limits of the API itself; the store and the domain have their own.
const (
	// MaxBatch is the most tasks one submitTasks may carry.
	MaxBatch = 1000
	// maxPageSize is the most tasks one page of the tasks query holds; the
	// store caps it too.
	maxPageSize = 500
	// configRetries is how often updateConfig reads and writes again when
	// another change got in between.
	configRetries = 5
)

// longest is a duration past every limit of the domain, used for numbers too
// large for a time.Duration so that validation reports them as too long
// rather than wrapping around.
const longest = time.Duration(math.MaxInt64)

// secondsToDuration converts an API number of seconds. NaN and infinities
// cannot come through GraphQL, but are treated as too long all the same; a
// positive value under a nanosecond becomes a nanosecond rather than 0, which
// would mean "the default".
func secondsToDuration(s float64) time.Duration {
	if math.IsNaN(s) || math.IsInf(s, 0) || math.Abs(s) >= float64(math.MaxInt64)/float64(time.Second) {
		if s < 0 {
			return -longest
		}
		return longest
	}
	d := time.Duration(s * float64(time.Second))
	if d == 0 && s > 0 {
		d = 1
	}
	return d
}

// millisToDuration converts an API number of milliseconds.
func millisToDuration(ms int) time.Duration {
	if int64(ms) > math.MaxInt64/int64(time.Millisecond) || int64(ms) < math.MinInt64/int64(time.Millisecond) {
		if ms < 0 {
			return -longest
		}
		return longest
	}
	return time.Duration(ms) * time.Millisecond
}

func seconds(d time.Duration) float64 { return d.Seconds() }

func millis(d time.Duration) int { return int(d / time.Millisecond) }

// optionalTime is null for the zero time.
func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// optionalString is null for the empty string.
func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// taskSpec turns a submission into the domain's TaskSpec.
func taskSpec(in *model.SubmitTaskInput) archivist.TaskSpec {
	spec := archivist.TaskSpec{
		Type:       in.Type,
		Input:      in.Input,
		MaxRetries: in.MaxRetries,
		Metadata:   in.Metadata,
	}
	if in.Priority != nil {
		spec.Priority = *in.Priority
	}
	if in.TimeoutSeconds != nil {
		spec.Timeout = secondsToDuration(*in.TimeoutSeconds)
	}
	if in.RetryBackoffMs != nil {
		spec.RetryBackoff = new(millisToDuration(*in.RetryBackoffMs))
	}
	if in.MaxBackoffMs != nil {
		spec.MaxBackoff = new(millisToDuration(*in.MaxBackoffMs))
	}
	if in.RunAt != nil {
		spec.RunAt = *in.RunAt
	}
	if in.DelaySeconds != nil {
		spec.Delay = secondsToDuration(*in.DelaySeconds)
	}
	if in.UniqueKey != nil {
		spec.UniqueKey = *in.UniqueKey
	}
	if in.UniqueForSeconds != nil {
		spec.UniqueFor = secondsToDuration(*in.UniqueForSeconds)
	}
	if in.OnDuplicate != nil {
		spec.OnDuplicate = *in.OnDuplicate
	}
	spec.Group = deref(in.Group)
	return spec
}

// optionalMillis is null for 0 (a task's backoff that is the cluster's).
func optionalMillis(d time.Duration) *int {
	if d == 0 {
		return nil
	}
	return new(millis(d))
}

// taskQuery turns the arguments of the tasks query into the store's query.
func taskQuery(f *model.TaskFilter, first *int, after *string) (archivist.TaskQuery, error) {
	q := archivist.TaskQuery{TaskFilter: taskFilter(f)}
	if err := checkTaskFilter(q.TaskFilter); err != nil {
		return q, err
	}
	var err error
	q.First, q.After, err = pageArgs(first, after, maxPageSize)
	return q, err
}

// pageArgs checks a connection's first (0 to most; absent: the store's
// default) and after.
func pageArgs(first *int, after *string, most int) (int, string, error) {
	n := 0
	if first != nil {
		switch {
		case *first < 0:
			return 0, "", archivist.Errorf(archivist.CodeBadUserInput, "first must not be negative")
		case *first > most:
			return 0, "", archivist.Errorf(archivist.CodeBadUserInput, "first must be at most %d", most)
		}
		n = *first
	}
	return n, deref(after), nil
}

// taskFilter is the domain's filter for a filter of the API: the tasks
// query pages it, the taskUpdated subscription matches events with it
// (archivist.TaskFilter.Matches), so both select the same tasks.
func taskFilter(f *model.TaskFilter) archivist.TaskFilter {
	var q archivist.TaskFilter
	if f == nil {
		return q
	}
	q.Status = f.Status
	if f.Type != nil {
		q.Type = *f.Type
	}
	if f.Priority != nil {
		q.Priority = *f.Priority
	}
	if f.NodeID != nil {
		q.NodeID = *f.NodeID
	}
	if f.Schedule != nil {
		q.Schedule = *f.Schedule
	}
	if f.WorkflowID != nil {
		q.WorkflowID = *f.WorkflowID
	}
	if f.Search != nil {
		q.Search = *f.Search
	}
	q.Group = deref(f.Group)
	q.IDs = f.Ids
	return q
}

// taskCursor is the cursor of one task in a page: the store pages by
// submission sequence, and its cursors are that sequence in decimal (the
// EndCursor of a page is the cursor of its last task).
func taskCursor(t *archivist.Task) string { return strconv.FormatUint(t.Seq, 10) }

// connection builds a page of the tasks query.
func connection(page *archivist.TaskPage) *model.TaskConnection {
	c := &model.TaskConnection{
		Edges:      make([]*model.TaskEdge, len(page.Tasks)),
		PageInfo:   &model.PageInfo{HasNextPage: page.HasNext},
		TotalCount: page.TotalCount,
	}
	for i, t := range page.Tasks {
		c.Edges[i] = &model.TaskEdge{Cursor: taskCursor(t), Node: t}
	}
	if n := len(page.Tasks); n > 0 {
		end := page.EndCursor
		if end == "" {
			end = c.Edges[n-1].Cursor
		}
		c.Edges[n-1].Cursor = end
		c.PageInfo.EndCursor = &end
	}
	return c
}

// applyConfig changes the fields of cfg that in gives.
func applyConfig(cfg *archivist.Config, in *model.ConfigInput) {
	if in.Enabled != nil {
		cfg.Enabled = *in.Enabled
	}
	if in.Peers != nil {
		cfg.Peers = append([]string{}, in.Peers...)
	}
	if in.Discovery != nil {
		cfg.Discovery = *in.Discovery
	}
	if in.HeartbeatIntervalMs != nil {
		cfg.HeartbeatInterval = millisToDuration(*in.HeartbeatIntervalMs)
	}
	if in.MissedHeartbeats != nil {
		cfg.MissedHeartbeats = *in.MissedHeartbeats
	}
	if in.DefaultTimeoutSeconds != nil {
		cfg.DefaultTimeout = secondsToDuration(*in.DefaultTimeoutSeconds)
	}
	if in.DefaultMaxRetries != nil {
		cfg.DefaultMaxRetries = *in.DefaultMaxRetries
	}
	if in.Strategy != nil {
		cfg.Strategy = *in.Strategy
	}
	if in.FaultTolerance != nil {
		cfg.FaultTolerance = *in.FaultTolerance
	}
	if th := in.Thresholds; th != nil {
		if th.CPUPercent != nil {
			cfg.Thresholds.CPUPercent = *th.CPUPercent
		}
		if th.MemoryPercent != nil {
			cfg.Thresholds.MemoryPercent = *th.MemoryPercent
		}
		if th.Load1 != nil {
			cfg.Thresholds.Load1 = *th.Load1
		}
	}
	if in.Workers != nil {
		cfg.Workers = *in.Workers
	}
	if in.RetentionSeconds != nil {
		cfg.Retention = secondsToDuration(*in.RetentionSeconds)
	}
	if in.FailedRetentionSeconds != nil {
		cfg.FailedRetention = secondsToDuration(*in.FailedRetentionSeconds)
	}
	if in.RetryBackoffMs != nil {
		cfg.RetryBackoff = millisToDuration(*in.RetryBackoffMs)
	}
	if in.MaxBackoffMs != nil {
		cfg.MaxBackoff = millisToDuration(*in.MaxBackoffMs)
	}
}
