package store

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/rpg-archivist/archivist"
)

// Statistics rollups (archivist.Stats), shared by every store: the same
// buckets, bins and bounds, kept by the engine in memory (and in the bbolt
// file) and by the Redis store in one HASH per bucket (see rediskeys.go and
// flush_stats in lua/lib.lua, which follows the same rules).
//
// A bucket holds one dimension for the whole cluster, one per task type,
// one per node and one per group, each counting what ended in it (a
// group's also what was submitted in it). Latencies go into fixed
// log-scale bins: bin 0 is under 1 µs, bin b ≥ 1 covers [2^((b-1)/4),
// 2^(b/4)) µs and reads as its geometric middle, so that a percentile is
// within 9% of the truth; statMaxBin (2^40 µs, 12 days) holds anything
// longer.

// statTier is one resolution of the rollups and how long its buckets are
// kept after they end (a little longer than the windows that read them).
type statTier struct {
	res  time.Duration
	keep time.Duration
}

var statTiers = [2]statTier{
	{archivist.StatsFineResolution, archivist.StatsFineRetention + 10*time.Minute},
	{archivist.StatsCoarseResolution, archivist.MaxStatsWindow + 10*time.Minute},
}

// tierOf is the index in statTiers of resolution res.
func tierOf(res time.Duration) int {
	if res == statTiers[0].res {
		return 0
	}
	return 1
}

const (
	statBinsPerOctave = 4
	statMaxBin        = 160
)

// statBin is the bin of a latency of us microseconds. lua/lib.lua has the
// same function.
func statBin(us int64) int {
	if us < 1 {
		return 0
	}
	return min(statMaxBin, 1+int(math.Floor(statBinsPerOctave*math.Log2(float64(us)))))
}

// statBinValue is what a latency in bin b reads as.
func statBinValue(b int) time.Duration {
	if b <= 0 {
		return 0
	}
	us := math.Exp2((float64(b-1) + 0.5) / statBinsPerOctave)
	return time.Duration(us * float64(time.Microsecond))
}

// statHist is a sparse latency histogram: bin -> count.
type statHist map[int]int64

func (h *statHist) add(us int64) {
	if *h == nil {
		*h = statHist{}
	}
	(*h)[statBin(us)]++
}

func (h *statHist) merge(o statHist) {
	if len(o) == 0 {
		return
	}
	if *h == nil {
		*h = statHist{}
	}
	for b, n := range o {
		(*h)[b] += n
	}
}

// quantile is the value of the p-quantile (0 < p ≤ 1): the bin holding
// the ceil(p·n)-th smallest latency. Zero for an empty histogram.
func (h statHist) quantile(p float64) time.Duration {
	var n int64
	for _, c := range h {
		n += c
	}
	if n == 0 {
		return 0
	}
	rank := int64(math.Ceil(p * float64(n)))
	bins := make([]int, 0, len(h))
	for b := range h {
		bins = append(bins, b)
	}
	slices.Sort(bins)
	var seen int64
	for _, b := range bins {
		seen += h[b]
		if seen >= rank {
			return statBinValue(b)
		}
	}
	return statBinValue(bins[len(bins)-1])
}

// statDim is one dimension of a bucket. Busy and Worker are microseconds.
type statDim struct {
	Submitted int64    `json:"s,omitempty"`
	Completed int64    `json:"c,omitempty"`
	Failed    int64    `json:"f,omitempty"`
	Busy      int64    `json:"b,omitempty"`
	Worker    int64    `json:"w,omitempty"`
	Wait      statHist `json:"wh,omitempty"`
	Run       statHist `json:"rh,omitempty"`
}

func (d *statDim) merge(o *statDim) {
	d.Submitted += o.Submitted
	d.Completed += o.Completed
	d.Failed += o.Failed
	d.Busy += o.Busy
	d.Worker += o.Worker
	d.Wait.merge(o.Wait)
	d.Run.merge(o.Run)
}

// statBucket is the rollup of one bucket: Start is its unix second.
type statBucket struct {
	Start int64               `json:"start"`
	G     statDim             `json:"g"`
	Types map[string]*statDim `json:"types,omitempty"`
	Nodes map[string]*statDim `json:"nodes,omitempty"`
	// Groups are the tasks of each named group (Task.Group).
	Groups map[string]*statDim `json:"groups,omitempty"`
}

// statDimOf returns the dimension of name in m, creating it; beyond max names
// (StatsOther not counted) it is StatsOther's.
func statDimOf(m *map[string]*statDim, name string, max int) *statDim {
	if *m == nil {
		*m = map[string]*statDim{}
	}
	if d := (*m)[name]; d != nil {
		return d
	}
	n := len(*m)
	if _, ok := (*m)[archivist.StatsOther]; ok {
		n--
	}
	if n >= max {
		name = archivist.StatsOther
		if d := (*m)[name]; d != nil {
			return d
		}
	}
	d := &statDim{}
	(*m)[name] = d
	return d
}

// Outcomes of an attempt, for statEnd.
const (
	statRetried   = iota // ended without ending the task (retry, cancel, lost)
	statCompleted        // the task COMPLETED
	statFailed           // the task ended FAILED or TIMED_OUT
)

// ended records an attempt of t that ended at now with outcome: busy time
// on its node, and for an ended task its count and latencies.
func (b *statBucket) ended(t *archivist.Task, now time.Time, outcome int) {
	var run, wait int64
	started := !t.StartedAt.IsZero()
	if started {
		run = now.Sub(t.StartedAt).Microseconds()
		wait = t.StartedAt.Sub(t.ReadySince()).Microseconds()
	}
	if t.NodeID != "" && started {
		n := statDimOf(&b.Nodes, t.NodeID, archivist.MaxStatsNodes)
		n.Busy += run
		switch outcome {
		case statCompleted:
			n.Completed++
		case statFailed:
			n.Failed++
		}
	}
	if outcome == statRetried {
		return
	}
	dims := [3]*statDim{&b.G, statDimOf(&b.Types, t.Type, archivist.MaxStatsTypes)}
	if t.Group != "" {
		dims[2] = statDimOf(&b.Groups, t.Group, archivist.MaxStatsGroups)
	}
	for _, d := range dims {
		if d == nil {
			continue
		}
		if outcome == statCompleted {
			d.Completed++
		} else {
			d.Failed++
		}
		if started {
			d.Wait.add(wait)
			d.Run.add(run)
		}
	}
}

// buildStats answers q (normalized, reading resolution res) at now from
// the buckets of that resolution; buckets outside the window are ignored.
func buildStats(q archivist.StatsQuery, res time.Duration, now time.Time, buckets []*statBucket) *archivist.Stats {
	bs := int64(q.Bucket / time.Second)
	n := int64((q.Window + q.Bucket - 1) / q.Bucket)
	end := (now.Unix()/bs + 1) * bs
	from := end - n*bs
	out := &archivist.Stats{Window: q.Window, Bucket: q.Bucket, Resolution: res,
		From: time.Unix(from, 0).UTC(), To: time.Unix(end, 0).UTC(), Series: make([]archivist.StatsPoint, n)}
	points := make([]statDim, n)
	var total statDim
	types := map[string]*statDim{}
	nodes := map[string]*statDim{}
	groups := map[string]*statDim{}
	sum := func(into map[string]*statDim, from map[string]*statDim) {
		for name, d := range from {
			agg := into[name]
			if agg == nil {
				agg = &statDim{}
				into[name] = agg
			}
			agg.merge(d)
		}
	}
	for _, b := range buckets {
		if b == nil || b.Start < from || b.Start >= end {
			continue
		}
		if q.Group != "" {
			// One group's figures: its dimension is the bucket's.
			if d := b.Groups[q.Group]; d != nil {
				points[(b.Start-from)/bs].merge(d)
				total.merge(d)
				sum(groups, map[string]*statDim{q.Group: d})
			}
			continue
		}
		points[(b.Start-from)/bs].merge(&b.G)
		total.merge(&b.G)
		sum(types, b.Types)
		sum(nodes, b.Nodes)
		sum(groups, b.Groups)
	}
	for i := range points {
		p := &points[i]
		out.Series[i] = archivist.StatsPoint{
			At: time.Unix(from+int64(i)*bs, 0).UTC(), Submitted: p.Submitted, Completed: p.Completed, Failed: p.Failed,
			WaitP50: p.Wait.quantile(0.5), WaitP95: p.Wait.quantile(0.95),
			RunP50: p.Run.quantile(0.5), RunP95: p.Run.quantile(0.95),
		}
	}
	out.Total = archivist.StatsPoint{At: out.From, Submitted: total.Submitted, Completed: total.Completed, Failed: total.Failed,
		WaitP50: total.Wait.quantile(0.5), WaitP95: total.Wait.quantile(0.95),
		RunP50: total.Run.quantile(0.5), RunP95: total.Run.quantile(0.95)}
	for name, d := range types {
		out.ByType = append(out.ByType, archivist.TypeStats{Type: name, Completed: d.Completed, Failed: d.Failed,
			WaitP95: d.Wait.quantile(0.95), RunP95: d.Run.quantile(0.95)})
	}
	slices.SortFunc(out.ByType, func(a, b archivist.TypeStats) int {
		return cmp.Or(cmp.Compare(b.Completed+b.Failed, a.Completed+a.Failed), cmp.Compare(a.Type, b.Type))
	})
	for name, d := range nodes {
		ns := archivist.NodeStats{NodeID: name, Completed: d.Completed, Failed: d.Failed,
			BusyTime: time.Duration(d.Busy) * time.Microsecond, WorkerTime: time.Duration(d.Worker) * time.Microsecond}
		if d.Worker > 0 {
			ns.Utilization = min(1, float64(d.Busy)/float64(d.Worker))
		}
		out.ByNode = append(out.ByNode, ns)
	}
	slices.SortFunc(out.ByNode, func(a, b archivist.NodeStats) int { return cmp.Compare(a.NodeID, b.NodeID) })
	for name, d := range groups {
		out.ByGroup = append(out.ByGroup, archivist.GroupStats{Group: name, Submitted: d.Submitted, Completed: d.Completed,
			Failed: d.Failed, WaitP95: d.Wait.quantile(0.95), RunP95: d.Run.quantile(0.95)})
	}
	slices.SortFunc(out.ByGroup, func(a, b archivist.GroupStats) int {
		return cmp.Or(cmp.Compare(b.Completed+b.Failed, a.Completed+a.Failed), cmp.Compare(b.Submitted, a.Submitted),
			cmp.Compare(a.Group, b.Group))
	})
	return out
}
