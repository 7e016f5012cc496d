package tasks

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	archivist "github.com/rpg-archivist/archivist"
)

// Limits of "dice.simulate".
const (
	// DefaultDiceTrials is the number of trials when the input names none.
	DefaultDiceTrials = 1000
	// MaxDiceTrials is the most trials one task may run.
	MaxDiceTrials = 1_000_000
	// MaxHistogramBins bounds the histogram of a result. When more distinct
	// totals were rolled, neighbouring totals share a bin.
	MaxHistogramBins = 10_000
)

// How often a simulation checks its context and reports progress.
const (
	// simulateCheckDice is how many dice are rolled between checks: a
	// millisecond's work or so, whatever the expression.
	simulateCheckDice = 1 << 16
	simulateMinReport = 250 * time.Millisecond
	simulateMinStep   = 0.1
)

// seedStream is the second PCG word of seeded simulations; any constant does.
const seedStream = 0x9e3779b97f4a7c15

// DiceSimulateHandler runs "dice.simulate": it rolls a dice expression many
// times and reports the distribution of the totals.
type DiceSimulateHandler struct{}

// DiceSimulation is the result of "dice.simulate".
type DiceSimulation struct {
	// Expr is the expression in normal form (DiceExpr.String).
	Expr   string `json:"expr"`
	Trials int    `json:"trials"`
	// Seed is the seed given in the input, if any.
	Seed *int64 `json:"seed,omitempty"`
	// Min and Max are the smallest and largest totals rolled.
	Min  int     `json:"min"`
	Max  int     `json:"max"`
	Mean float64 `json:"mean"`
	// Stddev is the population standard deviation of the totals rolled.
	Stddev float64 `json:"stddev"`
	// BucketWidth is how many consecutive totals share a histogram bin; it
	// is left out when each bin holds one total.
	BucketWidth int `json:"bucketWidth,omitempty"`
	// Histogram lists the totals rolled, in increasing order.
	Histogram []HistogramBin `json:"histogram"`
}

// HistogramBin counts the trials whose total was Value, or, when UpTo is
// set, between Value and UpTo inclusive.
type HistogramBin struct {
	Value       int     `json:"value"`
	UpTo        *int    `json:"upTo,omitempty"`
	Count       int     `json:"count"`
	Probability float64 `json:"probability"`
}

type simulateInput struct {
	expr   *DiceExpr
	trials int
	seed   *int64
}

const simulateExample = `{"expr": "4d6kh3", "trials": 10000}`

func parseSimulateInput(input json.RawMessage) (simulateInput, error) {
	var in simulateInput
	f, err := decodeFields(input, simulateExample, "expr", "trials", "seed")
	if err != nil {
		return in, err
	}
	src, ok, err := f.string("expr")
	if err != nil {
		return in, err
	}
	if !ok {
		return in, fmt.Errorf("expr is required: the dice expression to roll, such as %s", simulateExample)
	}
	if in.expr, err = ParseDice(src); err != nil {
		return in, err
	}
	trials, ok, err := f.int("trials", 1, MaxDiceTrials)
	if err != nil {
		return in, err
	}
	in.trials = DefaultDiceTrials
	if ok {
		in.trials = int(trials)
	}
	seed, ok, err := f.int("seed", math.MinInt64, math.MaxInt64)
	if err != nil {
		return in, err
	}
	if ok {
		in.seed = &seed
	}
	return in, nil
}

// ValidateInput checks that input is {"expr": E} with E a valid dice
// expression (see ParseDice), an optional "trials" from 1 to MaxDiceTrials
// and an optional integer "seed".
func (DiceSimulateHandler) ValidateInput(input json.RawMessage) error {
	_, err := parseSimulateInput(input)
	return err
}

// Handle runs the simulation and returns a DiceSimulation.
func (DiceSimulateHandler) Handle(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
	in, err := parseSimulateInput(job.Task.Input)
	if err != nil {
		return nil, archivist.Permanent(err)
	}
	var r *rand.Rand
	if in.seed != nil {
		r = rand.New(rand.NewPCG(uint64(*in.seed), seedStream))
	} else {
		r = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	res, err := SimulateDice(ctx, in.expr, in.trials, r, func(done int) {
		job.ReportProgress(float64(done)/float64(in.trials), fmt.Sprintf("%d of %d trials", done, in.trials))
	})
	if err != nil {
		return nil, err
	}
	res.Seed = in.seed
	return json.Marshal(res)
}

// SimulateDice rolls e trials times with r (the global source when nil) and
// summarises the totals. It returns ctx.Err() if ctx ends first. progress,
// if not nil, is called now and then with the number of trials done.
func SimulateDice(ctx context.Context, e *DiceExpr, trials int, r *rand.Rand, progress func(done int)) (*DiceSimulation, error) {
	if trials < 1 {
		return nil, fmt.Errorf("trials must be at least 1, got %d", trials)
	}
	lo, hi := e.Min(), e.Max()
	// Count totals directly when the range is small; otherwise keep every
	// total (they fit in 32 bits, see the dice limits) and sort them later.
	var counts []int
	var totals []int32
	if span := hi - lo + 1; span <= 1<<16 {
		counts = make([]int, span)
	} else {
		totals = make([]int32, 0, trials)
	}

	var mean, m2 float64 // Welford's running mean and sum of squared deviations
	lastReport, lastDone := time.Now(), 0
	checkEvery := max(1, simulateCheckDice/max(1, e.diceCount()))
	nextCheck := checkEvery
	for i := range trials {
		if i == nextCheck {
			nextCheck += checkEvery
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if now := time.Now(); progress != nil && now.Sub(lastReport) >= simulateMinReport &&
				float64(i-lastDone) >= simulateMinStep*float64(trials) {
				progress(i)
				lastReport, lastDone = now, i
			}
		}
		v := e.Roll(r)
		if counts != nil {
			counts[v-lo]++
		} else {
			totals = append(totals, int32(v))
		}
		d := float64(v) - mean
		mean += d / float64(i+1)
		m2 += d * (float64(v) - mean)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	var seen []valueCount
	if counts != nil {
		for i, c := range counts {
			if c > 0 {
				seen = append(seen, valueCount{lo + i, c})
			}
		}
	} else {
		slices.Sort(totals)
		for _, v := range totals {
			if n := len(seen); n > 0 && seen[n-1].value == int(v) {
				seen[n-1].count++
			} else {
				seen = append(seen, valueCount{int(v), 1})
			}
		}
	}
	bins, width := histogram(seen, trials, MaxHistogramBins)
	res := &DiceSimulation{
		Expr:      e.String(),
		Trials:    trials,
		Min:       seen[0].value,
		Max:       seen[len(seen)-1].value,
		Mean:      mean,
		Stddev:    math.Sqrt(m2 / float64(trials)),
		Histogram: bins,
	}
	if width > 1 {
		res.BucketWidth = width
	}
	return res, nil
}

type valueCount struct{ value, count int }

// histogram turns the distinct totals seen, in increasing order, into at most
// maxBins bins, widening the bins evenly when there are more totals than that.
func histogram(seen []valueCount, trials, maxBins int) ([]HistogramBin, int) {
	if len(seen) <= maxBins {
		bins := make([]HistogramBin, len(seen))
		for i, s := range seen {
			bins[i] = HistogramBin{Value: s.value, Count: s.count, Probability: float64(s.count) / float64(trials)}
		}
		return bins, 1
	}
	lo, hi := seen[0].value, seen[len(seen)-1].value
	width := (hi - lo + maxBins) / maxBins // ceil((hi-lo+1) / maxBins)
	var bins []HistogramBin
	for _, s := range seen {
		start := lo + (s.value-lo)/width*width
		if n := len(bins); n > 0 && bins[n-1].Value == start {
			bins[n-1].Count += s.count
			continue
		}
		upTo := min(start+width-1, hi)
		bins = append(bins, HistogramBin{Value: start, UpTo: &upTo, Count: s.count})
	}
	for i := range bins {
		bins[i].Probability = float64(bins[i].Count) / float64(trials)
	}
	return bins, width
}
