package health

import (
	"context"
	"runtime"
	"testing"
	"time"

	archivist "github.com/rpg-archivist/archivist"
)

func TestSystemSampler(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("checked on Linux only")
	}
	clock := newFakeClock()
	s := NewSystemSampler(clock.Now)
	// The first Sample compares with the measurement NewSystemSampler took;
	// the second with the first.
	for i := range 2 {
		h, err := s.Sample(context.Background())
		if err != nil {
			t.Fatalf("Sample #%d: %v", i+1, err)
		}
		t.Logf("sample #%d: %+v", i+1, h)
		checkPercent(t, "cpu", h.CPUPercent)
		if i == 1 && h.CPUPercent == 0 {
			t.Error("cpu 0% over a window in which this test kept a core busy")
		}
		checkPercent(t, "memory", h.MemoryPercent)
		if h.MemoryPercent == 0 {
			t.Error("memory 0%: a running test uses some")
		}
		for name, v := range map[string]float64{"load1": h.Load1, "load5": h.Load5, "load15": h.Load15} {
			if v < 0 || v != v {
				t.Errorf("%s = %v, want >= 0", name, v)
			}
		}
		if !h.SampledAt.Equal(clock.Now()) {
			t.Errorf("SampledAt = %v, want the injected clock's %v", h.SampledAt, clock.Now())
		}
		if i == 0 {
			spin(100 * time.Millisecond)
		}
	}
}

// spin keeps one core busy for d.
func spin(d time.Duration) {
	x := 0
	for start := time.Now(); time.Since(start) < d; {
		for range 1000 {
			x++
		}
	}
	_ = x
}

func checkPercent(t *testing.T, name string, v float64) {
	t.Helper()
	if !(v >= 0 && v <= 100) { // also rejects NaN
		t.Errorf("%s = %v%%, want 0..100", name, v)
	}
}

func TestSamplerFunc(t *testing.T) {
	t.Parallel()
	var s Sampler = SamplerFunc(func(context.Context) (archivist.Health, error) {
		return archivist.Health{CPUPercent: 12}, nil
	})
	if h, err := s.Sample(context.Background()); err != nil || h.CPUPercent != 12 {
		t.Fatalf("Sample() = %+v, %v", h, err)
	}
}
