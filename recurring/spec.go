// Package recurring is the timing of schedules: parsing a schedule's cron
// expression or interval (Parse), planning the store call that fires its
// due ticks (Plan), and the leader's Runner that makes those calls.
package recurring

import (
	"strings"
	"time"
	// Zones must load on systems without a zoneinfo database (a minimal
	// container): the standard library then falls back on this copy.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"

	"github.com/rpg-archivist/archivist"
)

// parser reads five fields, an optional leading seconds field, and
// descriptors such as @daily.
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Spec is when a schedule ticks: a cron expression read in a time zone, or
// a fixed interval.
type Spec struct {
	cron  *cron.SpecSchedule // nil for an interval
	every time.Duration
}

// Parse checks a schedule's timing: a cron expression (with timezone, an
// IANA zone name, UTC when empty) or an interval of at least
// archivist.MinScheduleEvery, exactly one of them. Errors are
// BAD_USER_INPUT and say what is wrong.
func Parse(expr, timezone string, every time.Duration) (*Spec, error) {
	expr = strings.TrimSpace(expr)
	switch {
	case expr == "" && every == 0:
		return nil, archivist.Errorf(archivist.CodeBadUserInput, "give a cron expression or an every interval")
	case expr != "" && every != 0:
		return nil, archivist.Errorf(archivist.CodeBadUserInput, "give a cron expression or an every interval, not both")
	case every != 0:
		if timezone != "" {
			return nil, archivist.Errorf(archivist.CodeBadUserInput, "a time zone goes with a cron expression, not with every")
		}
		if every < archivist.MinScheduleEvery {
			return nil, archivist.Errorf(archivist.CodeBadUserInput, "every %s is under the minimum of %s", every, archivist.MinScheduleEvery)
		}
		return &Spec{every: every}, nil
	}
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return nil, archivist.Errorf(archivist.CodeBadUserInput, "cron %q: give the time zone in the timezone field, not in the expression", archivist.Clip(expr))
	}
	if strings.HasPrefix(expr, "@every") {
		return nil, archivist.Errorf(archivist.CodeBadUserInput, "cron %q: give an interval in the every field, not as @every", archivist.Clip(expr))
	}
	loc := time.UTC
	if timezone != "" {
		l, err := time.LoadLocation(timezone)
		// LoadLocation also takes "Local", which would depend on the
		// node's own zone: each leader would read the schedule its way.
		if err != nil || timezone == "Local" {
			return nil, archivist.Errorf(archivist.CodeBadUserInput, "time zone %q is unknown; give an IANA name such as Europe/Paris or UTC", archivist.Clip(timezone))
		}
		loc = l
	}
	s, err := parser.Parse(expr)
	if err != nil {
		return nil, archivist.Errorf(archivist.CodeBadUserInput, "cron %q: %v", archivist.Clip(expr), err)
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, archivist.Errorf(archivist.CodeBadUserInput, "cron %q is not a cron expression", archivist.Clip(expr))
	}
	// The parser reads an expression in the process's local zone unless
	// told otherwise; the schedule's zone is the one that counts.
	spec.Location = loc
	p := &Spec{cron: spec}
	if p.Next(time.Now()).IsZero() {
		return nil, archivist.Errorf(archivist.CodeBadUserInput, "cron %q never fires (no such date in the next five years)", archivist.Clip(expr))
	}
	return p, nil
}

// ForSchedule parses the timing of a stored schedule.
func ForSchedule(s *archivist.Schedule) (*Spec, error) {
	return Parse(s.Cron, s.Timezone, s.Every)
}

// Every is the interval of an interval spec, 0 for a cron one.
func (s *Spec) Every() time.Duration { return s.every }

// Next is the first tick strictly after after, in UTC; zero when a cron
// expression has none in the next five years. An interval ticks every
// interval from after.
func (s *Spec) Next(after time.Time) time.Time {
	if s.cron == nil {
		return after.Add(s.every).UTC()
	}
	n := s.cron.Next(after)
	if n.IsZero() {
		return n
	}
	// When clocks go back, an hour of wall-clock time comes twice; an
	// expression naming its hours ("30 1 * * *") fires at the first one
	// only, as people expect of a daily job.
	// Every tick in the second pass is skipped: at most two hours' worth
	// of them (one a second), hence the bound.
	for i := 0; s.hoursNamed() && repeated(n.In(s.cron.Location)) && i < 2*3600; i++ {
		if n = s.cron.Next(n); n.IsZero() {
			return n
		}
	}
	return n.UTC()
}

// hoursNamed reports whether the expression leaves out some hours of the
// day (its hour field is not * or an equivalent).
func (s *Spec) hoursNamed() bool {
	const allHours = 1<<24 - 1
	return s.cron.Hour&allHours != allHours
}

// repeated reports whether the wall-clock time of t (in its location) came
// once before, shortly earlier: t is in the second pass of an hour that
// the clocks went back over.
func repeated(t time.Time) bool {
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	for _, back := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
		e := t.Add(-back)
		ey, emo, ed := e.Date()
		eh, emi, esec := e.Clock()
		if ey == y && emo == mo && ed == d && eh == h && emi == mi && esec == sec {
			return true
		}
	}
	return false
}

// nextAfterNow is the first tick after now of the series that ticked at
// tick: for an interval, on the same grid (tick plus whole intervals).
func (s *Spec) nextAfterNow(tick, now time.Time) time.Time {
	if s.cron != nil || !tick.Before(now) {
		return s.Next(now)
	}
	n := now.Sub(tick)/s.every + 1
	return tick.Add(n * s.every).UTC()
}
