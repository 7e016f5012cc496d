// Package health samples a node's resource use and decides, with
// hysteresis, whether the node is busy.
package health

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"

	archivist "github.com/rpg-archivist/archivist"
)

// Sampler takes one sample of the node's resource use. Sample may be called
// from any goroutine but a Monitor never calls it concurrently with itself.
// It should return quickly: a Monitor samples on its own schedule.
type Sampler interface {
	Sample(ctx context.Context) (archivist.Health, error)
}

// SamplerFunc adapts a function to a Sampler.
type SamplerFunc func(ctx context.Context) (archivist.Health, error)

// Sample calls f.
func (f SamplerFunc) Sample(ctx context.Context) (archivist.Health, error) { return f(ctx) }

// SystemSampler samples the machine it runs on through gopsutil.
//
// CPU use is the share of time all CPUs were busy since the previous
// measurement, so Sample never blocks to measure. gopsutil keeps that
// previous measurement per process, not per SystemSampler: anything else in
// the process asking gopsutil for a CPU percent with a zero interval shortens
// the window this sampler sees (the value stays a valid percentage).
type SystemSampler struct {
	now func() time.Time

	mu   sync.Mutex
	last time.Time // when the previous CPU measurement was taken
}

// minCPUWindow is the shortest window a CPU percent is measured over: a
// shorter one (the first sample right after start, say) is mostly noise
// and could turn a node BUSY for nothing.
const minCPUWindow = 250 * time.Millisecond

// NewSystemSampler returns a SystemSampler that stamps samples with now
// (time.Now when nil). It takes a first CPU measurement so that the first
// Sample already has a window to compare against.
func NewSystemSampler(now func() time.Time) *SystemSampler {
	if now == nil {
		now = time.Now
	}
	// Priming: the first zero-interval call has nothing to compare with and
	// reports an error; only the measurement it leaves behind matters.
	_, _ = cpu.PercentWithContext(context.Background(), 0, false)
	return &SystemSampler{now: now, last: time.Now()}
}

// Sample returns the CPU percent since the previous call, the share of
// memory in use and the load averages.
func (s *SystemSampler) Sample(ctx context.Context) (archivist.Health, error) {
	var h archivist.Health
	s.mu.Lock()
	defer s.mu.Unlock()
	if wait := minCPUWindow - time.Since(s.last); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return h, ctx.Err()
		case <-t.C:
		}
	}
	pct, err := cpu.PercentWithContext(ctx, 0, false)
	s.last = time.Now()
	if err != nil {
		return h, fmt.Errorf("health: cpu percent: %w", err)
	}
	if len(pct) == 0 {
		return h, errors.New("health: cpu percent: no value")
	}
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return h, fmt.Errorf("health: memory: %w", err)
	}
	avg, err := load.AvgWithContext(ctx)
	if err != nil {
		return h, fmt.Errorf("health: load average: %w", err)
	}
	return archivist.Health{
		CPUPercent:    pct[0],
		MemoryPercent: vm.UsedPercent,
		Load1:         avg.Load1,
		Load5:         avg.Load5,
		Load15:        avg.Load15,
		SampledAt:     s.now(),
	}, nil
}
