package health

import (
	"testing"

	archivist "github.com/rpg-archivist/archivist"
)

func TestEvaluate(t *testing.T) {
	t.Parallel()
	cpuMem := archivist.Thresholds{CPUPercent: 90, MemoryPercent: 90}
	tests := []struct {
		name       string
		prevBusy   bool
		h          archivist.Health
		t          archivist.Thresholds
		hysteresis float64
		cores      int
		wantBusy   bool
		wantReason string
	}{
		{
			name: "all thresholds disabled",
			h:    archivist.Health{CPUPercent: 100, MemoryPercent: 100, Load1: 64},
			t:    archivist.Thresholds{}, hysteresis: 10, cores: 1,
		},
		{
			name:     "busy node recovers when every threshold is disabled",
			prevBusy: true,
			h:        archivist.Health{CPUPercent: 100, MemoryPercent: 100, Load1: 64},
			t:        archivist.Thresholds{}, hysteresis: 10, cores: 1,
		},
		{
			name: "under every threshold",
			h:    archivist.Health{CPUPercent: 50, MemoryPercent: 50, Load1: 0.5},
			t:    archivist.Thresholds{CPUPercent: 90, MemoryPercent: 90, Load1: 1}, hysteresis: 10, cores: 1,
		},
		{
			name: "cpu over enters busy",
			h:    archivist.Health{CPUPercent: 95, MemoryPercent: 50},
			t:    cpuMem, hysteresis: 10, cores: 1,
			wantBusy: true, wantReason: "cpu 95.0% > 90.0%",
		},
		{
			name: "exactly at the threshold is not over it",
			h:    archivist.Health{CPUPercent: 90, MemoryPercent: 90},
			t:    cpuMem, hysteresis: 10, cores: 1,
		},
		{
			name: "memory over enters busy",
			h:    archivist.Health{CPUPercent: 10, MemoryPercent: 91},
			t:    cpuMem, hysteresis: 10, cores: 1,
			wantBusy: true, wantReason: "memory 91.0% > 90.0%",
		},
		{
			name: "every crossing value is named",
			h:    archivist.Health{CPUPercent: 99, MemoryPercent: 97.3, Load1: 10},
			t:    archivist.Thresholds{CPUPercent: 90, MemoryPercent: 90, Load1: 2}, hysteresis: 10, cores: 4,
			wantBusy: true, wantReason: "cpu 99.0% > 90.0%, memory 97.3% > 90.0%, load1/core 2.50 > 2.00",
		},
		{
			name: "not busy inside the band stays not busy",
			h:    archivist.Health{CPUPercent: 85, MemoryPercent: 85},
			t:    cpuMem, hysteresis: 10, cores: 1,
		},
		{
			name:     "busy inside the band stays busy",
			prevBusy: true,
			h:        archivist.Health{CPUPercent: 85, MemoryPercent: 50},
			t:        cpuMem, hysteresis: 10, cores: 1,
			wantBusy: true, wantReason: "cpu 85.0% not below 80.0%",
		},
		{
			name:     "busy at the band's lower edge stays busy",
			prevBusy: true,
			h:        archivist.Health{CPUPercent: 50, MemoryPercent: 80},
			t:        cpuMem, hysteresis: 10, cores: 1,
			wantBusy: true, wantReason: "memory 80.0% not below 80.0%",
		},
		{
			name:     "busy recovers below the band",
			prevBusy: true,
			h:        archivist.Health{CPUPercent: 79.9, MemoryPercent: 79.9},
			t:        cpuMem, hysteresis: 10, cores: 1,
		},
		{
			name:     "busy stays busy while over the threshold",
			prevBusy: true,
			h:        archivist.Health{CPUPercent: 95, MemoryPercent: 10},
			t:        cpuMem, hysteresis: 10, cores: 1,
			wantBusy: true, wantReason: "cpu 95.0% > 90.0%",
		},
		{
			name:     "a disabled threshold does not hold a busy node",
			prevBusy: true,
			h:        archivist.Health{CPUPercent: 100, MemoryPercent: 10},
			t:        archivist.Thresholds{MemoryPercent: 90}, hysteresis: 10, cores: 1,
		},
		{
			name: "a disabled threshold does not make a node busy",
			h:    archivist.Health{CPUPercent: 100, MemoryPercent: 10},
			t:    archivist.Thresholds{MemoryPercent: 90}, hysteresis: 10, cores: 1,
		},
		{
			name: "load is compared per core: over",
			h:    archivist.Health{Load1: 6},
			t:    archivist.Thresholds{Load1: 1}, hysteresis: 10, cores: 4,
			wantBusy: true, wantReason: "load1/core 1.50 > 1.00",
		},
		{
			name: "load is compared per core: under",
			h:    archivist.Health{Load1: 6},
			t:    archivist.Thresholds{Load1: 1}, hysteresis: 10, cores: 8,
		},
		{
			name: "zero cores counts as one",
			h:    archivist.Health{Load1: 1.5},
			t:    archivist.Thresholds{Load1: 1}, hysteresis: 10, cores: 0,
			wantBusy: true, wantReason: "load1/core 1.50 > 1.00",
		},
		{
			name:     "load band is scaled to the threshold: inside",
			prevBusy: true,
			h:        archivist.Health{Load1: 7.4}, // 1.85 per core
			t:        archivist.Thresholds{Load1: 2}, hysteresis: 10, cores: 4,
			wantBusy: true, wantReason: "load1/core 1.85 not below 1.80",
		},
		{
			name:     "load band is scaled to the threshold: below",
			prevBusy: true,
			h:        archivist.Health{Load1: 7}, // 1.75 per core
			t:        archivist.Thresholds{Load1: 2}, hysteresis: 10, cores: 4,
		},
		{
			name:     "band is capped at half a low threshold: inside",
			prevBusy: true,
			h:        archivist.Health{CPUPercent: 6},
			t:        archivist.Thresholds{CPUPercent: 10}, hysteresis: 10, cores: 1,
			wantBusy: true, wantReason: "cpu 6.0% not below 5.0%",
		},
		{
			name:     "band is capped at half a low threshold: below",
			prevBusy: true,
			h:        archivist.Health{CPUPercent: 4},
			t:        archivist.Thresholds{CPUPercent: 10}, hysteresis: 10, cores: 1,
		},
		{
			name:     "load band is capped at half the threshold",
			prevBusy: true,
			h:        archivist.Health{Load1: 0.4},
			t:        archivist.Thresholds{Load1: 1}, hysteresis: 500, cores: 1,
		},
		{
			name:     "negative hysteresis counts as none",
			prevBusy: true,
			h:        archivist.Health{CPUPercent: 89.9},
			t:        archivist.Thresholds{CPUPercent: 90}, hysteresis: -5, cores: 1,
		},
		{
			name:     "zero hysteresis: at the threshold stays busy",
			prevBusy: true,
			h:        archivist.Health{CPUPercent: 90},
			t:        archivist.Thresholds{CPUPercent: 90}, hysteresis: 0, cores: 1,
			wantBusy: true, wantReason: "cpu 90.0% not below 90.0%",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			busy, reason := Evaluate(tt.prevBusy, tt.h, tt.t, tt.hysteresis, tt.cores)
			if busy != tt.wantBusy || reason != tt.wantReason {
				t.Errorf("Evaluate(prevBusy=%v, %+v, %+v, %v, %d) = (%v, %q), want (%v, %q)",
					tt.prevBusy, tt.h, tt.t, tt.hysteresis, tt.cores, busy, reason, tt.wantBusy, tt.wantReason)
			}
		})
	}
}
