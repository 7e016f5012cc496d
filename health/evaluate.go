package health

import (
	"fmt"
	"strings"

	archivist "github.com/rpg-archivist/archivist"
)

// Evaluate decides whether a node whose last decision was prevBusy is busy
// given the sample h.
//
// A node becomes busy when any enabled (non-zero) threshold is exceeded:
// CPU% > t.CPUPercent, memory% > t.MemoryPercent, or Load1 per core (Load1
// divided by cores) > t.Load1. A busy node stays busy until every enabled
// value is below its threshold minus the hysteresis band, so a value
// hovering around a threshold does not flap the node between BUSY and
// ONLINE.
//
// hysteresis is in percentage points for CPU and memory (threshold 90 with
// hysteresis 10 recovers below 80). The load threshold is not a percentage,
// so there the band is the same share of the threshold
// (threshold*hysteresis/100: 2.0 with hysteresis 10 recovers below 1.8).
// A band is never wider than half its threshold, so a low threshold with a
// large hysteresis can still recover. A negative hysteresis counts as zero;
// cores below 1 count as one.
//
// reason names the values that hold the node busy, for logs, e.g.
// "cpu 95.0% > 90.0%" on entering or "cpu 85.0% not below 80.0%" while
// inside the band. It is empty when the node is not busy.
func Evaluate(prevBusy bool, h archivist.Health, t archivist.Thresholds, hysteresis float64, cores int) (busy bool, reason string) {
	if hysteresis < 0 {
		hysteresis = 0
	}
	if cores < 1 {
		cores = 1
	}
	checks := [...]check{
		{name: "cpu", value: h.CPUPercent, limit: t.CPUPercent, band: hysteresis, unit: "%.1f%%"},
		{name: "memory", value: h.MemoryPercent, limit: t.MemoryPercent, band: hysteresis, unit: "%.1f%%"},
		{name: "load1/core", value: h.Load1 / float64(cores), limit: t.Load1, band: t.Load1 * hysteresis / 100, unit: "%.2f"},
	}

	var over []string
	for _, c := range checks {
		if c.enabled() && c.value > c.limit {
			over = append(over, c.name+" "+c.format(c.value)+" > "+c.format(c.limit))
		}
	}
	if len(over) > 0 {
		return true, strings.Join(over, ", ")
	}
	if !prevBusy {
		return false, ""
	}

	var held []string
	for _, c := range checks {
		if !c.enabled() {
			continue
		}
		if floor := c.recoverBelow(); c.value >= floor {
			held = append(held, c.name+" "+c.format(c.value)+" not below "+c.format(floor))
		}
	}
	if len(held) > 0 {
		return true, strings.Join(held, ", ")
	}
	return false, ""
}

// check is one sampled value against its threshold.
type check struct {
	name  string
	value float64
	limit float64
	band  float64
	unit  string
}

func (c check) enabled() bool { return c.limit > 0 }

// recoverBelow is the value a busy node must fall below to recover.
func (c check) recoverBelow() float64 {
	return c.limit - min(c.band, c.limit/2)
}

func (c check) format(v float64) string { return fmt.Sprintf(c.unit, v) }
