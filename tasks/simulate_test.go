package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func mustParse(t *testing.T, expr string) *DiceExpr {
	t.Helper()
	e, err := ParseDice(expr)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// checkSimulation checks what must hold of any simulation of e.
func checkSimulation(t *testing.T, e *DiceExpr, res *DiceSimulation, trials int) {
	t.Helper()
	if res.Trials != trials || res.Expr != e.String() {
		t.Errorf("trials, expr = %d, %q; want %d, %q", res.Trials, res.Expr, trials, e.String())
	}
	if res.Min < e.Min() || res.Max > e.Max() || res.Min > res.Max {
		t.Errorf("rolled %d..%d, outside %d..%d", res.Min, res.Max, e.Min(), e.Max())
	}
	if len(res.Histogram) == 0 || len(res.Histogram) > MaxHistogramBins {
		t.Fatalf("histogram has %d bins", len(res.Histogram))
	}
	if first, last := res.Histogram[0], res.Histogram[len(res.Histogram)-1]; first.Value != res.Min ||
		(last.UpTo == nil && last.Value != res.Max) || (last.UpTo != nil && *last.UpTo != res.Max) {
		t.Errorf("histogram runs from %d to %+v, want %d to %d", first.Value, last, res.Min, res.Max)
	}
	count, prob, prevEnd := 0, 0.0, math.MinInt
	for _, b := range res.Histogram {
		end := b.Value
		if b.UpTo != nil {
			end = *b.UpTo
		}
		if b.Value <= prevEnd || end < b.Value || b.Count < 1 {
			t.Fatalf("bad bin %+v after one ending at %d", b, prevEnd)
		}
		if (b.UpTo != nil) != (res.BucketWidth > 1) || end-b.Value+1 > max(res.BucketWidth, 1) {
			t.Fatalf("bin %+v does not fit bucket width %d", b, res.BucketWidth)
		}
		if want := float64(b.Count) / float64(trials); math.Abs(b.Probability-want) > 1e-12 {
			t.Fatalf("bin %+v: probability, want %v", b, want)
		}
		prevEnd = end
		count += b.Count
		prob += b.Probability
	}
	if count != trials {
		t.Errorf("histogram counts sum to %d, want %d", count, trials)
	}
	if math.Abs(prob-1) > 1e-9 {
		t.Errorf("probabilities sum to %v, want 1", prob)
	}
	if res.BucketWidth <= 1 {
		// The summary must agree with the histogram.
		var sum, sq float64
		for _, b := range res.Histogram {
			sum += float64(b.Value) * float64(b.Count)
		}
		mean := sum / float64(trials)
		for _, b := range res.Histogram {
			sq += (float64(b.Value) - mean) * (float64(b.Value) - mean) * float64(b.Count)
		}
		if sd := math.Sqrt(sq / float64(trials)); math.Abs(mean-res.Mean) > 1e-6 || math.Abs(sd-res.Stddev) > 1e-6 {
			t.Errorf("mean, stddev = %v, %v; the histogram gives %v, %v", res.Mean, res.Stddev, mean, sd)
		}
	}
}

func TestSimulateDice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr       string
		trials     int
		mean, sd   float64 // exact values
		tol        float64 // allowed error of the mean and stddev
		wantBucket int
	}{
		{"1d6", 100000, 3.5, math.Sqrt(35.0 / 12), 0.02, 0},
		{"2d6+3", 100000, 10, math.Sqrt(35.0 / 6), 0.03, 0},
		{"5", 10, 5, 0, 1e-9, 0},
		{"1d6-1d6", 100000, 0, math.Sqrt(35.0 / 6), 0.03, 0},
		{"2d20kl1", 100000, 7.175, 4.7, 0.1, 0},
		{"4d6kh3", 100000, 12.2446, 2.85, 0.05, 0},
		{"d20", 1, 0, 0, 100, 0},
		// Over 2^16 possible totals: kept and sorted rather than counted.
		{"10d10000", 5000, 50005, math.Sqrt(10 * (1e8 - 1) / 12), 500, 0},
		// About 95000 distinct totals: grouped into bins of 100.
		{"1d1000000", 100000, 500000.5, 1e6 / math.Sqrt(12), 3000, 100},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			e := mustParse(t, tt.expr)
			res, err := SimulateDice(context.Background(), e, tt.trials, rand.New(rand.NewPCG(3, 4)), nil)
			if err != nil {
				t.Fatal(err)
			}
			checkSimulation(t, e, res, tt.trials)
			if math.Abs(res.Mean-tt.mean) > tt.tol || math.Abs(res.Stddev-tt.sd) > tt.tol {
				t.Errorf("mean, stddev = %.4f, %.4f; want %.4f, %.4f within %v", res.Mean, res.Stddev, tt.mean, tt.sd, tt.tol)
			}
			if res.BucketWidth != tt.wantBucket {
				t.Errorf("BucketWidth = %d, want %d", res.BucketWidth, tt.wantBucket)
			}
		})
	}
}

func TestHistogramBuckets(t *testing.T) {
	t.Parallel()
	seen := []valueCount{{-3, 1}, {-2, 2}, {0, 1}, {4, 5}, {5, 1}, {9, 1}}
	tests := []struct {
		maxBins, width int
		want           [][3]int // value, upTo, count
	}{
		{6, 1, [][3]int{{-3, -3, 1}, {-2, -2, 2}, {0, 0, 1}, {4, 4, 5}, {5, 5, 1}, {9, 9, 1}}},
		// 13 totals from -3 to 9 in at most 5 bins: width 3.
		{5, 3, [][3]int{{-3, -1, 3}, {0, 2, 1}, {3, 5, 6}, {9, 9, 1}}},
		{2, 7, [][3]int{{-3, 3, 4}, {4, 9, 7}}},
		{1, 13, [][3]int{{-3, 9, 11}}},
	}
	for _, tt := range tests {
		bins, width := histogram(seen, 11, tt.maxBins)
		if width != tt.width || len(bins) != len(tt.want) {
			t.Errorf("maxBins %d: width %d and %d bins, want %d and %d", tt.maxBins, width, len(bins), tt.width, len(tt.want))
			continue
		}
		for i, b := range bins {
			upTo := b.Value
			if b.UpTo != nil {
				upTo = *b.UpTo
			}
			if got := [3]int{b.Value, upTo, b.Count}; got != tt.want[i] || (b.UpTo == nil) != (tt.width == 1) {
				t.Errorf("maxBins %d: bin %d = %v (upTo set: %v), want %v", tt.maxBins, i, got, b.UpTo != nil, tt.want[i])
			}
		}
	}
}

func runSimulate(t *testing.T, input string) (json.RawMessage, DiceSimulation) {
	t.Helper()
	raw, err := DiceSimulateHandler{}.Handle(context.Background(), newJob(input, 1, nil))
	if err != nil {
		t.Fatalf("Handle(%s): %v", input, err)
	}
	var res DiceSimulation
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	return raw, res
}

func TestDiceSimulateHandler(t *testing.T) {
	t.Parallel()
	raw, res := runSimulate(t, `{"expr": " 2D20 KL1 "}`)
	checkSimulation(t, mustParse(t, "2d20kl1"), &res, DefaultDiceTrials)
	var shape map[string]json.RawMessage
	if err := json.Unmarshal(raw, &shape); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"expr", "trials", "min", "max", "mean", "stddev", "histogram"} {
		if _, ok := shape[k]; !ok {
			t.Errorf("result has no %q: %s", k, raw)
		}
	}
	for _, k := range []string{"seed", "bucketWidth"} {
		if _, ok := shape[k]; ok {
			t.Errorf("result has %q though it should not: %s", k, raw)
		}
	}
	var bins []map[string]json.RawMessage
	if err := json.Unmarshal(shape["histogram"], &bins); err != nil || len(bins) < 2 {
		t.Fatalf("histogram %s: %v", shape["histogram"], err)
	}
	for _, k := range []string{"value", "count", "probability"} {
		if _, ok := bins[0][k]; !ok {
			t.Errorf("histogram bin has no %q: %s", k, shape["histogram"])
		}
	}
	if _, ok := bins[0]["upTo"]; ok {
		t.Errorf("unbucketed histogram bin has upTo: %s", shape["histogram"])
	}
}

func TestDiceSimulateSeed(t *testing.T) {
	t.Parallel()
	a, resA := runSimulate(t, `{"expr": "2d20kl1", "trials": 20000, "seed": 7}`)
	b, _ := runSimulate(t, `{"expr": "2d20kl1", "trials": 20000, "seed": 7}`)
	c, _ := runSimulate(t, `{"expr": "2d20kl1", "trials": 20000, "seed": 8}`)
	if string(a) != string(b) {
		t.Error("the same seed gave different results")
	}
	if string(a) == string(c) {
		t.Error("different seeds gave the same result")
	}
	if resA.Seed == nil || *resA.Seed != 7 {
		t.Errorf("result seed = %v, want 7", resA.Seed)
	}
	// Keeping the lower of two d20s pulls the mean well under a d20's 10.5.
	if resA.Mean >= 10.5 || resA.Mean < 6.5 {
		t.Errorf("2d20kl1 mean = %.3f, want about 7.2", resA.Mean)
	}
	_, hi := runSimulate(t, `{"expr": "2d20kh1", "trials": 20000, "seed": 7}`)
	if hi.Mean <= 10.5 || hi.Mean > 14.5 {
		t.Errorf("2d20kh1 mean = %.3f, want about 13.8", hi.Mean)
	}
}

// TestSimulateProgressAndCancel cancels a long simulation from its first
// progress report and expects it to stop at once.
func TestSimulateProgressAndCancel(t *testing.T) {
	t.Parallel()
	e := mustParse(t, "100d6")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reports := 0
	start := time.Now()
	res, err := SimulateDice(ctx, e, MaxDiceTrials, nil, func(done int) {
		reports++
		if done <= 0 || done >= MaxDiceTrials {
			t.Errorf("progress reported %d trials done", done)
		}
		cancel()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("SimulateDice = %v, %v; want context.Canceled", res, err)
	}
	if reports != 1 {
		t.Errorf("%d progress reports, want 1 before the cancellation", reports)
	}
	if elapsed := time.Since(start); elapsed < simulateMinReport {
		t.Errorf("first progress report came after %s, before the %s minimum", elapsed, simulateMinReport)
	}
}

func TestSimulateEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		wantErr error
	}{
		{"timeout", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 30*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(30*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := tt.ctx()
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				// Some minutes of work: far longer than the test allows.
				_, err := DiceSimulateHandler{}.Handle(ctx, newJob(`{"expr": "1000d1000kh999", "trials": 1000000}`, 1, nil))
				errc <- err
			}()
			select {
			case err := <-errc:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Handle = %v, want %v", err, tt.wantErr)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Handle still running 5s after its context ended")
			}
		})
	}
}
