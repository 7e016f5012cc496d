package main

import (
	"math"
	"slices"
	"sort"
	"time"
)

// median of xs (0 for none); NaNs are left out.
func median(xs []float64) float64 {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// medianOf applies median to one field of every run.
func medianOf[T any](runs []T, f func(T) float64) float64 {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = f(r)
	}
	return median(xs)
}

// latency summarises a set of latencies, in milliseconds.
type latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50Ms"`
	P95   float64 `json:"p95Ms"`
	P99   float64 `json:"p99Ms"`
	Max   float64 `json:"maxMs"`
}

// summarize sorts us (microseconds) and returns its percentiles.
func summarize(us []int64) latency {
	if len(us) == 0 {
		return latency{}
	}
	s := slices.Clone(us)
	slices.Sort(s)
	ms := func(v int64) float64 { return float64(v) / 1000 }
	return latency{Count: len(s), P50: ms(pct(s, 0.50)), P95: ms(pct(s, 0.95)), P99: ms(pct(s, 0.99)), Max: ms(s[len(s)-1])}
}

// pct is the p-th quantile of sorted s (nearest rank).
func pct(s []int64, p float64) int64 {
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func medianLatency(ls []latency) latency {
	return latency{
		Count: int(medianOf(ls, func(l latency) float64 { return float64(l.Count) })),
		P50:   medianOf(ls, func(l latency) float64 { return l.P50 }),
		P95:   medianOf(ls, func(l latency) float64 { return l.P95 }),
		P99:   medianOf(ls, func(l latency) float64 { return l.P99 }),
		Max:   medianOf(ls, func(l latency) float64 { return l.Max }),
	}
}

func perTask(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(n)
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// ratio is a/b, 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
