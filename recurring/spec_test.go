package recurring

import (
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustParse(t *testing.T, expr, tz string, every time.Duration) *Spec {
	t.Helper()
	s, err := Parse(expr, tz, every)
	if err != nil {
		t.Fatalf("Parse(%q, %q, %s): %v", expr, tz, every, err)
	}
	return s
}

func TestNext(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		cron, tz  string
		every     time.Duration
		after     string
		wantTicks []string
	}{
		{"five fields", "*/15 * * * *", "", 0, "2026-03-01T10:07:30Z",
			[]string{"2026-03-01T10:15:00Z", "2026-03-01T10:30:00Z", "2026-03-01T10:45:00Z"}},
		{"six fields with seconds", "*/20 * * * * *", "", 0, "2026-03-01T10:00:05Z",
			[]string{"2026-03-01T10:00:20Z", "2026-03-01T10:00:40Z", "2026-03-01T10:01:00Z"}},
		{"daily descriptor", "@daily", "", 0, "2026-03-01T10:00:00Z",
			[]string{"2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"}},
		{"hourly descriptor", "@hourly", "", 0, "2026-03-01T10:00:00Z",
			[]string{"2026-03-01T11:00:00Z", "2026-03-01T12:00:00Z"}},
		{"day of week names", "0 9 * * MON-FRI", "", 0, "2026-03-06T12:00:00Z", // a Friday
			[]string{"2026-03-09T09:00:00Z", "2026-03-10T09:00:00Z"}},
		{"in a zone", "0 3 * * *", "Europe/Paris", 0, "2026-01-10T12:00:00Z",
			[]string{"2026-01-11T02:00:00Z", "2026-01-12T02:00:00Z"}},
		// Europe/Paris moves from UTC+1 to UTC+2 on 2026-03-29: 03:00
		// local is 02:00 UTC before, 01:00 UTC after.
		{"across spring forward", "0 3 * * *", "Europe/Paris", 0, "2026-03-27T12:00:00Z",
			[]string{"2026-03-28T02:00:00Z", "2026-03-29T01:00:00Z", "2026-03-30T01:00:00Z"}},
		// 02:30 does not exist in New York on 2026-03-08: that day has no
		// such tick, and the next day has it again.
		{"a time skipped by spring forward", "30 2 * * *", "America/New_York", 0, "2026-03-07T12:00:00Z",
			[]string{"2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"}},
		// 01:30 comes twice in New York on 2026-11-01: a job at a named
		// hour fires at the first one only.
		{"a time repeated by fall back", "30 1 * * *", "America/New_York", 0, "2026-10-31T12:00:00Z",
			[]string{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		{"a time repeated by fall back, after the first one", "30 1 * * *", "America/New_York", 0, "2026-11-01T05:30:00Z",
			[]string{"2026-11-02T06:30:00Z"}},
		// Every tick of the second pass is skipped, not only the first.
		{"several times in a repeated hour", "0,30 1 * * *", "America/New_York", 0, "2026-11-01T04:45:00Z",
			[]string{"2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:00:00Z"}},
		// An hourly job fires in both passes of the repeated hour: each is
		// an hour after the last.
		{"hourly across fall back", "0 * * * *", "America/New_York", 0, "2026-11-01T04:30:00Z",
			[]string{"2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"}},
		{"every", "", "", 90 * time.Second, "2026-03-01T10:00:00Z",
			[]string{"2026-03-01T10:01:30Z", "2026-03-01T10:03:00Z"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, c.cron, c.tz, c.every)
			at := mustTime(t, c.after)
			for i, want := range c.wantTicks {
				at = s.Next(at)
				if !at.Equal(mustTime(t, want)) {
					t.Fatalf("tick %d = %s, want %s", i, at.Format(time.RFC3339), want)
				}
				if at.Location() != time.UTC {
					t.Fatalf("tick %d in %s, want UTC", i, at.Location())
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		cron, tz string
		every    time.Duration
		want     string
	}{
		{"neither", "", "", 0, "give a cron expression or an every interval"},
		{"both", "* * * * *", "", time.Minute, "not both"},
		{"minute out of range", "61 * * * *", "", 0, `cron "61 * * * *": end of range (61) above maximum (59)`},
		{"too few fields", "* * *", "", 0, `cron "* * *": expected 5 to 6 fields`},
		{"too many fields", "0 0 0 * * * *", "", 0, "expected 5 to 6 fields"},
		{"bad descriptor", "@fortnightly", "", 0, `cron "@fortnightly"`},
		{"zone in the expression", "TZ=Europe/Paris 0 3 * * *", "", 0, "timezone field"},
		{"cron zone in the expression", "CRON_TZ=Europe/Paris 0 3 * * *", "", 0, "timezone field"},
		{"@every", "@every 5m", "", 0, "every field"},
		{"unknown zone", "0 3 * * *", "Mars/Olympus", 0, `time zone "Mars/Olympus" is unknown`},
		{"local zone", "0 3 * * *", "Local", 0, `time zone "Local" is unknown`},
		{"never fires", "0 0 30 2 *", "", 0, "never fires"},
		{"every too short", "", "", 500 * time.Millisecond, "every 500ms is under the minimum of 1s"},
		{"negative every", "", "", -time.Second, "under the minimum"},
		{"zone with every", "", "UTC", time.Minute, "time zone goes with a cron expression"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(c.cron, c.tz, c.every)
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if code := archivist.ErrorCodeOf(err); code != archivist.CodeBadUserInput {
				t.Errorf("code %s, want BAD_USER_INPUT", code)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ cron, tz string }{
		{"0 3 * * *", "UTC"},
		{"0 3 * * *", "Asia/Kolkata"},
		{"  0 3 * * *  ", ""},
		{"@weekly", ""},
		{"@midnight", "Australia/Sydney"},
		{"0 0 29 2 *", ""}, // every leap year
	} {
		if _, err := Parse(c.cron, c.tz, 0); err != nil {
			t.Errorf("Parse(%q, %q): %v", c.cron, c.tz, err)
		}
	}
	if _, err := Parse("", "", archivist.MinScheduleEvery); err != nil {
		t.Errorf("every of the minimum: %v", err)
	}
}

func TestNextAfterNow(t *testing.T) {
	t.Parallel()
	s := mustParse(t, "", "", 10*time.Second)
	tick := mustTime(t, "2026-03-01T10:00:00Z")
	for _, c := range []struct{ now, want string }{
		{"2026-03-01T10:05:03Z", "2026-03-01T10:05:10Z"},
		{"2026-03-01T10:05:10Z", "2026-03-01T10:05:20Z"}, // strictly after
	} {
		if got := s.nextAfterNow(tick, mustTime(t, c.now)); !got.Equal(mustTime(t, c.want)) {
			t.Errorf("now %s: %s, want %s", c.now, got, c.want)
		}
	}
	cr := mustParse(t, "*/7 * * * * *", "", 0)
	if got := cr.nextAfterNow(tick, mustTime(t, "2026-03-01T10:05:03Z")); !got.Equal(mustTime(t, "2026-03-01T10:05:07Z")) {
		t.Errorf("cron: %s", got)
	}
}
