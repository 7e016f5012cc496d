package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rpg-archivist/archivist/client"
)

const scheduleHelp = `Usage: archivist schedule create|update NAME (--cron EXPR [--timezone TZ] | --every DUR) --type T [flags]
       archivist schedule list | show NAME | pause NAME | resume NAME | delete NAME | trigger NAME

A schedule submits a task at every tick of a cron expression or an interval.
The cron expression has five fields (minute hour day-of-month month
day-of-week), or six with a leading seconds field, or is a descriptor such as
@daily; it is read in --timezone (an IANA name, UTC by default). --every is a
Go duration of at least 1s. update changes only what its flags name and keeps
the rest; pause stops the ticks, resume goes on from the next one to come
(ticks missed while paused are not run); trigger submits the task now.

Examples:
  archivist schedule create nightly-index --cron "0 3 * * *" --timezone Europe/Paris --type index.rebuild
  archivist schedule create poll --every 30s --type echo --input '{"ping": true}' --overlap skip
  archivist schedule create report --cron "*/10 * * * * *" --type echo --misfire skip --paused
  archivist schedule create reindex --every 1h --type index.rebuild --unique reindex --unique-for 30m
  archivist schedule update nightly-index --cron "30 2 * * *"
  archivist schedule list
  archivist schedule trigger nightly-index
  archivist tasks list --schedule nightly-index
`

// scheduleFlags are the flags of schedule create and update.
type scheduleFlags struct {
	cron, timezone, typ, input, metadata, priority, overlap, misfire, unique string
	every, timeout, retryBackoff, maxBackoff, uniqueFor                      time.Duration
	maxRetries                                                               int
	paused, replace                                                          bool
}

func (f *scheduleFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.cron, "cron", "", "create/update: cron expression: 5 fields, 6 with seconds first, or @daily, @hourly...")
	fs.StringVar(&f.timezone, "timezone", "", "create/update: IANA time zone the cron expression is read in (default UTC)")
	fs.Func("every", "create/update: an interval instead of cron, a `duration` of at least 1s such as 30s or 1h30m", func(v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		switch {
		case err != nil:
			return errors.New("not a duration: use a Go duration such as 30s, 5m or 1h30m")
		case d < time.Second:
			return errors.New("must be at least 1s")
		}
		f.every = d
		return nil
	})
	fs.StringVar(&f.typ, "type", "", "create/update: the task type each tick submits")
	fs.StringVar(&f.input, "input", "", "create/update: task input: JSON, @file, or @- for standard input")
	fs.StringVar(&f.metadata, "metadata", "", "create/update: task metadata: JSON or @file")
	fs.StringVar(&f.priority, "priority", "", "create/update: low, normal, high or critical (default normal)")
	fs.DurationVar(&f.timeout, "timeout", 0, "create/update: timeout of one attempt (default: the cluster's)")
	fs.IntVar(&f.maxRetries, "max-retries", -1, "create/update: retries after a failure (default: the cluster's)")
	fs.Func("retry-backoff", "create/update: the task's wait before its first retry, a `duration` (default: the cluster's)", backoffFlag(&f.retryBackoff))
	fs.Func("max-backoff", "create/update: the task's longest wait between retries, a `duration` (default: the cluster's)", backoffFlag(&f.maxBackoff))
	fs.StringVar(&f.overlap, "overlap", "", "create/update: a tick while the previous task is unfinished: allow, skip or cancel-previous (default allow)")
	fs.StringVar(&f.misfire, "misfire", "", "create/update: ticks missed while no leader ran: run-once or skip (default run-once)")
	fs.StringVar(&f.unique, "unique", "", "create/update: a unique `key` for each tick's task: a tick whose key is held submits nothing (\"\" removes it)")
	fs.DurationVar(&f.uniqueFor, "unique-for", 0, "create/update: keep the --unique key this long after the task finished")
	fs.BoolVar(&f.replace, "replace", false, "create/update: with --unique, a tick cancels the task holding the key instead")
	fs.BoolVar(&f.paused, "paused", false, "create: create it paused")
}

// apply sets on spec what the given flags say.
func (f *scheduleFlags) apply(spec *client.ScheduleSpec, given map[string]bool) error {
	switch {
	case given["cron"] && given["every"]:
		return usageErr("give --cron or --every, not both")
	case given["timezone"] && given["every"]:
		return usageErr("--timezone goes with --cron, not with --every")
	case given["cron"]:
		spec.Cron, spec.Every = f.cron, 0
	case given["every"]:
		spec.Every, spec.Cron, spec.Timezone = f.every, "", ""
	}
	if given["timezone"] {
		spec.Timezone = f.timezone
	}
	if given["type"] {
		spec.Task.Type = f.typ
	}
	var err error
	if given["input"] {
		if spec.Task.Input, err = readInput(f.input); err != nil {
			return usageErr("--input: %v", err)
		}
	}
	if given["metadata"] {
		if spec.Task.Metadata, err = readInput(f.metadata); err != nil {
			return usageErr("--metadata: %v", err)
		}
	}
	if given["priority"] {
		p, err := EnumValue("priority", f.priority, "LOW", "NORMAL", "HIGH", "CRITICAL")
		if err != nil {
			return usageErr("%v", err)
		}
		spec.Task.Priority = p
	}
	if given["timeout"] {
		spec.Task.Timeout = f.timeout
	}
	if given["max-retries"] {
		if f.maxRetries < 0 {
			return usageErr("--max-retries must not be negative")
		}
		spec.Task.MaxRetries = &f.maxRetries
	}
	if given["retry-backoff"] {
		spec.Task.RetryBackoff = f.retryBackoff
	}
	if given["max-backoff"] {
		spec.Task.MaxBackoff = f.maxBackoff
	}
	if given["unique"] {
		spec.Task.UniqueKey = f.unique
		if f.unique == "" {
			spec.Task.UniqueFor, spec.Task.OnDuplicate = 0, ""
		}
	}
	if given["unique-for"] {
		spec.Task.UniqueFor = f.uniqueFor
	}
	if given["replace"] {
		spec.Task.OnDuplicate = ""
		if f.replace {
			spec.Task.OnDuplicate = "REPLACE"
		}
	}
	if spec.Task.UniqueKey == "" && (spec.Task.UniqueFor != 0 || spec.Task.OnDuplicate != "") {
		return usageErr("--unique-for and --replace need --unique")
	}
	if given["overlap"] {
		v, err := EnumValue("overlap", f.overlap, "ALLOW", "SKIP", "CANCEL_PREVIOUS")
		if err != nil {
			return usageErr("%v", err)
		}
		spec.Overlap = v
	}
	if given["misfire"] {
		v, err := EnumValue("misfire", f.misfire, "RUN_ONCE", "SKIP")
		if err != nil {
			return usageErr("%v", err)
		}
		spec.Misfire = v
	}
	spec.Paused = f.paused
	return nil
}

// specOf is the definition of a stored schedule, for update to change.
func specOf(s *client.Schedule) client.ScheduleSpec {
	spec := client.ScheduleSpec{Name: s.Name, Cron: s.Cron, Timezone: s.Timezone, Overlap: s.Overlap, Misfire: s.Misfire,
		Task: client.TaskSpec{Type: s.Task.Type, Input: s.Task.Input, Priority: s.Task.Priority, Metadata: s.Task.Metadata,
			Timeout: time.Duration(s.Task.TimeoutSeconds * float64(time.Second))}}
	if s.Every != "" {
		spec.Every, _ = time.ParseDuration(s.Every)
	}
	spec.Task.UniqueKey = s.Task.UniqueKey
	spec.Task.UniqueFor = time.Duration(s.Task.UniqueForSeconds * float64(time.Second))
	if s.Task.OnDuplicate == "REPLACE" {
		spec.Task.OnDuplicate = "REPLACE"
	}
	retries := s.Task.MaxRetries
	spec.Task.MaxRetries = &retries
	if s.Task.RetryBackoffMs != nil {
		spec.Task.RetryBackoff = time.Duration(*s.Task.RetryBackoffMs) * time.Millisecond
	}
	if s.Task.MaxBackoffMs != nil {
		spec.Task.MaxBackoff = time.Duration(*s.Task.MaxBackoffMs) * time.Millisecond
	}
	return spec
}

func cliSchedule(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var f scheduleFlags
	var sfs *flag.FlagSet
	return runClient("schedule", scheduleHelp, args, getenv, stdout, stderr, func(fs *flag.FlagSet) {
		sfs = fs
		f.add(fs)
	}, func(e *clientEnv, args []string) error {
		if len(args) == 0 {
			return usageErr("want a subcommand: create, update, list, show, pause, resume, delete or trigger")
		}
		sub, args := args[0], args[1:]
		given := map[string]bool{}
		sfs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
		if sub != "create" && sub != "update" {
			for _, name := range []string{"cron", "timezone", "every", "type", "input", "metadata", "priority", "timeout",
				"max-retries", "retry-backoff", "max-backoff", "unique", "unique-for", "replace", "overlap", "misfire", "paused"} {
				if given[name] {
					return usageErr("--%s goes with create or update, not %s", name, sub)
				}
			}
		}
		if sub == "list" || sub == "ls" {
			if len(args) > 0 {
				return usageErr("list takes no arguments")
			}
			list, err := e.client.Schedules(e.ctx)
			if err != nil {
				return err
			}
			if e.output == "json" {
				return e.json(list)
			}
			e.table(scheduleHeader, scheduleRows(list))
			return nil
		}
		if len(args) != 1 {
			return usageErr("%s wants one schedule name", sub)
		}
		name := args[0]
		var s *client.Schedule
		var err error
		switch sub {
		case "create":
			if !given["cron"] && !given["every"] {
				return usageErr("create wants --cron or --every")
			}
			if !given["type"] {
				return usageErr("create wants --type, the task type each tick submits")
			}
			spec := client.ScheduleSpec{Name: name}
			if err := f.apply(&spec, given); err != nil {
				return err
			}
			s, err = e.client.CreateSchedule(e.ctx, spec)
		case "update":
			if given["paused"] {
				return usageErr("update keeps whether the schedule is paused: use pause or resume")
			}
			changes := 0
			for k := range given {
				switch k {
				case "server", "token", "o", "ca-cert", "insecure-skip-verify":
				default:
					changes++
				}
			}
			if changes == 0 {
				return usageErr("update wants at least one flag to change, such as --cron, --every or --type")
			}
			old, err := e.client.Schedule(e.ctx, name)
			if err != nil {
				return err
			}
			spec := specOf(old)
			if err := f.apply(&spec, given); err != nil {
				return err
			}
			s, err = e.client.UpdateSchedule(e.ctx, spec)
			if err != nil {
				return err
			}
		case "show", "get":
			s, err = e.client.Schedule(e.ctx, name)
		case "pause":
			s, err = e.client.PauseSchedule(e.ctx, name)
		case "resume":
			s, err = e.client.ResumeSchedule(e.ctx, name)
		case "delete":
			if err := e.client.DeleteSchedule(e.ctx, name); err != nil {
				return err
			}
			if e.output == "json" {
				return e.json(map[string]any{"deleted": name})
			}
			fmt.Fprintf(e.stdout, "deleted schedule %s (the tasks it submitted stay)\n", name)
			return nil
		case "trigger":
			t, err := e.client.TriggerSchedule(e.ctx, name)
			if err != nil {
				return err
			}
			if e.output == "json" {
				return e.json(t)
			}
			fmt.Fprintln(e.stdout, t.ID)
			return nil
		default:
			return usageErr("unknown subcommand %q: use create, update, list, show, pause, resume, delete or trigger", sub)
		}
		if err != nil {
			return err
		}
		if e.output == "json" {
			return e.json(s)
		}
		if sub == "show" || sub == "get" {
			printSchedule(e.stdout, s)
			return nil
		}
		e.table(scheduleHeader, scheduleRows([]*client.Schedule{s}))
		return nil
	})
}

const scheduleHeader = "NAME\tWHEN\tTYPE\tNEXT RUN\tLAST RUN\tPAUSED"

func scheduleRows(list []*client.Schedule) [][]string {
	rows := make([][]string, 0, len(list))
	for _, s := range list {
		paused := "no"
		if s.Paused {
			paused = "yes"
		}
		rows = append(rows, []string{s.Name, when(s), s.Task.Type, until(s.NextRunAt), agoPtr(s.LastRunAt), paused})
	}
	return rows
}

// when says when a schedule ticks: "every 30s" or the cron expression and
// its zone.
func when(s *client.Schedule) string {
	if s.Every != "" {
		return "every " + s.Every
	}
	return s.Cron + " (" + orDash(s.Timezone) + ")"
}

func until(t *time.Time) string {
	if t == nil {
		return "-"
	}
	d := time.Until(*t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return t.UTC().Format(time.RFC3339) + " (in " + d.String() + ")"
}

func agoPtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339) + " (" + ago(*t) + ")"
}

func printSchedule(w io.Writer, s *client.Schedule) {
	line := func(k, v string) { fmt.Fprintf(w, "%-12s %s\n", k+":", v) }
	line("name", s.Name)
	line("when", when(s))
	line("task", s.Task.Type)
	if len(s.Task.Input) > 0 && string(s.Task.Input) != "null" {
		line("input", oneLine(string(s.Task.Input), 200))
	}
	line("priority", s.Task.Priority)
	line("timeout", (time.Duration(s.Task.TimeoutSeconds * float64(time.Second))).String())
	line("max retries", fmt.Sprint(s.Task.MaxRetries))
	line("overlap", s.Overlap)
	line("misfire", s.Misfire)
	line("paused", fmt.Sprint(s.Paused))
	line("next run", until(s.NextRunAt))
	line("last run", agoPtr(s.LastRunAt))
	if s.LastTask != nil {
		line("last task", s.LastTask.ID+" "+s.LastTask.Status)
	} else {
		line("last task", "-")
	}
	line("created", s.CreatedAt.UTC().Format(time.RFC3339))
	line("updated", s.UpdatedAt.UTC().Format(time.RFC3339))
}
