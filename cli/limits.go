package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/rpg-archivist/archivist/client"
)

const limitsHelp = `Usage: archivist limits list
       archivist limits set [--type T] [--group G] [--max-concurrent N] [--rate R [--burst B]]
       archivist limits delete ID

A limit bounds the tasks of a scope across the whole cluster: how many run at
once (--max-concurrent) and how many start per second (--rate, with --burst
starts saved up while idle; by default the rate rounded up). The scope is a
task type (--type), a group (--group), or both; --group '*' bounds each group
separately ("each campaign at most 2 thumbnails at once"). Setting a limit of
the same scope replaces it. A task a limit holds back stays PENDING, says so
(held by "limit ID"), and the tasks behind it are placed. Setting and deleting
limits needs an admin key.

list shows each limit with its use: RUNNING slots in use now and HELD tasks
it holds back; a '*' limit lists its busiest groups.

Examples:
  archivist limits set --type image.thumbnail --max-concurrent 4
  archivist limits set --type image.thumbnail --group '*' --max-concurrent 2
  archivist limits set --group campaign-7 --rate 5 --burst 10
  archivist limits list
  archivist limits delete 'type=image.thumbnail,group=*'
`

// limitFlags are the flags of limits set.
type limitFlags struct {
	typ, group    string
	maxConcurrent int
	rate          float64
	burst         int
	fs            *flag.FlagSet
	given         map[string]bool
}

// limitSetFlags are the flags only limits set takes.
var limitSetFlags = []string{"type", "group", "max-concurrent", "rate", "burst"}

func (f *limitFlags) add(fs *flag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.typ, "type", "", "set: the task type the limit bounds (default: every type)")
	fs.StringVar(&f.group, "group", "", "set: the group it bounds; '*' bounds each group separately (default: every group together)")
	fs.IntVar(&f.maxConcurrent, "max-concurrent", 0, "set: the most tasks of the scope running at once across the cluster")
	fs.Func("rate", "set: the most tasks of the scope started per second across the cluster, such as 5 or 0.5", func(v string) error {
		r, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		switch {
		case err != nil || math.IsNaN(r) || math.IsInf(r, 0):
			return errors.New("not a number: use starts per second, such as 5 or 0.5")
		case r <= 0:
			return errors.New("must be above 0")
		}
		f.rate = r
		return nil
	})
	fs.IntVar(&f.burst, "burst", 0, "set: starts the rate may save up while idle (default: the rate rounded up)")
}

// spec checks the flags of limits set and returns the limit they describe.
// The node checks the rest (a known type, the bounds' ranges).
func (f *limitFlags) spec() (client.LimitSpec, error) {
	switch {
	case !f.given["type"] && !f.given["group"]:
		return client.LimitSpec{}, usageErr("set wants --type, --group or both: the tasks the limit bounds")
	case !f.given["max-concurrent"] && !f.given["rate"]:
		return client.LimitSpec{}, usageErr("set wants --max-concurrent, --rate or both")
	case f.given["type"] && strings.TrimSpace(f.typ) == "":
		return client.LimitSpec{}, usageErr("--type must not be empty (leave it out to bound every type)")
	case f.given["group"] && f.group == "":
		return client.LimitSpec{}, usageErr("--group must not be empty (leave it out to bound every group together)")
	case f.given["max-concurrent"] && f.maxConcurrent < 1:
		return client.LimitSpec{}, usageErr("--max-concurrent must be at least 1")
	case f.given["burst"] && !f.given["rate"]:
		return client.LimitSpec{}, usageErr("--burst goes with --rate")
	case f.given["burst"] && f.burst < 1:
		return client.LimitSpec{}, usageErr("--burst must be at least 1")
	}
	return client.LimitSpec{TaskType: strings.TrimSpace(f.typ), Group: f.group, MaxConcurrent: f.maxConcurrent,
		RatePerSecond: f.rate, Burst: f.burst}, nil
}

func cliLimits(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var f limitFlags
	return runClient("limits", limitsHelp, args, getenv, stdout, stderr, f.add, func(e *clientEnv, args []string) error {
		if len(args) == 0 {
			return usageErr("want a subcommand: list, set or delete")
		}
		sub, args := args[0], args[1:]
		f.given = map[string]bool{}
		f.fs.Visit(func(fl *flag.Flag) { f.given[fl.Name] = true })
		if sub != "set" {
			for _, name := range limitSetFlags {
				if f.given[name] {
					return usageErr("--%s goes with set, not %s", name, sub)
				}
			}
		}
		switch sub {
		case "list", "ls":
			if len(args) > 0 {
				return usageErr("list takes no arguments")
			}
			list, err := e.client.Limits(e.ctx)
			if err != nil {
				return err
			}
			if e.output == "json" {
				return e.json(list)
			}
			if len(list) == 0 {
				fmt.Fprintln(e.stdout, "no limits (archivist limits set adds one)")
				return nil
			}
			e.table(limitHeader, limitRows(list))
			return nil
		case "set":
			if len(args) > 0 {
				return usageErr("set takes flags only (--type, --group, --max-concurrent, --rate, --burst), not %q", args[0])
			}
			spec, err := f.spec()
			if err != nil {
				return err
			}
			l, err := e.client.SetLimit(e.ctx, spec)
			if err != nil {
				return err
			}
			if e.output == "json" {
				return e.json(l)
			}
			e.table(limitHeader, limitRows([]*client.Limit{l}))
			return nil
		case "delete", "rm":
			if len(args) != 1 {
				return usageErr("delete wants one limit id, such as type=image.thumbnail (see archivist limits list)")
			}
			if err := e.client.DeleteLimit(e.ctx, args[0]); err != nil {
				return err
			}
			if e.output == "json" {
				return e.json(map[string]any{"deleted": args[0]})
			}
			fmt.Fprintf(e.stdout, "deleted limit %s (the tasks it held back are placed again)\n", args[0])
			return nil
		}
		return usageErr("unknown subcommand %q: use list, set or delete", sub)
	})
}

const limitHeader = "ID\tTYPE\tGROUP\tMAX CONCURRENT\tRATE/S\tBURST\tRUNNING\tHELD"

func limitRows(list []*client.Limit) [][]string {
	var rows [][]string
	for _, l := range list {
		typ, group := orDash(l.TaskType), l.Group
		switch group {
		case "":
			group = "(all together)"
		case "*":
			group = "* (each)"
		}
		running := strconv.Itoa(l.Running)
		if l.MaxConcurrent > 0 {
			running += "/" + strconv.Itoa(l.MaxConcurrent)
		}
		rows = append(rows, []string{l.ID, typ, group, intOrDash(l.MaxConcurrent), rateOrDash(l.RatePerSecond),
			intOrDash(l.Burst), running, strconv.Itoa(l.Held)})
		// A '*' limit: its busiest groups, under it.
		const shown = 5
		for i, g := range l.Groups {
			if i == shown {
				rows = append(rows, []string{"", "", fmt.Sprintf("  … %d more groups", len(l.Groups)-shown), "", "", "", "", ""})
				break
			}
			use := strconv.Itoa(g.Running)
			if l.MaxConcurrent > 0 {
				use += "/" + strconv.Itoa(l.MaxConcurrent)
			}
			rows = append(rows, []string{"", "", "  " + g.Group, "", "", "", use, strconv.Itoa(g.Held)})
		}
	}
	return rows
}

func intOrDash(n int) string {
	if n == 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

func rateOrDash(r float64) string {
	if r == 0 {
		return "-"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

const typesHelp = `Usage: archivist types list
       archivist types pause TYPE
       archivist types resume TYPE

Lists the task types the node accepts, and pauses or resumes one across the
cluster. A paused type's tasks still queue (PENDING, held by "paused") but
none is placed until it is resumed; tasks already running finish. Pausing
and resuming need an operator or admin key.

Examples:
  archivist types list
  archivist types pause image.thumbnail
  archivist types resume image.thumbnail
`

func cliTypes(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return runClient("types", typesHelp, args, getenv, stdout, stderr, nil, func(e *clientEnv, args []string) error {
		if len(args) == 0 {
			return usageErr("want a subcommand: list, pause or resume")
		}
		sub, args := args[0], args[1:]
		switch sub {
		case "list", "ls":
			if len(args) > 0 {
				return usageErr("list takes no arguments")
			}
			states, err := e.client.TaskTypeStates(e.ctx)
			if err != nil {
				return err
			}
			if e.output == "json" {
				return e.json(states)
			}
			rows := make([][]string, 0, len(states))
			for _, s := range states {
				paused := "no"
				if s.Paused {
					paused = "yes"
				}
				rows = append(rows, []string{s.Type, paused})
			}
			e.table("TYPE\tPAUSED", rows)
			return nil
		case "pause", "resume":
			if len(args) != 1 {
				return usageErr("%s wants one task type (see archivist types list)", sub)
			}
			var changed bool
			var err error
			if sub == "pause" {
				changed, err = e.client.PauseTaskType(e.ctx, args[0])
			} else {
				changed, err = e.client.ResumeTaskType(e.ctx, args[0])
			}
			if err != nil {
				return err
			}
			if e.output == "json" {
				return e.json(map[string]any{"type": args[0], "paused": sub == "pause", "changed": changed})
			}
			switch {
			case sub == "pause" && changed:
				fmt.Fprintf(e.stdout, "paused %s: its tasks queue but are not placed until archivist types resume %s\n", args[0], args[0])
			case sub == "pause":
				fmt.Fprintf(e.stdout, "%s was paused already\n", args[0])
			case changed:
				fmt.Fprintf(e.stdout, "resumed %s: its queued tasks are placed again\n", args[0])
			default:
				fmt.Fprintf(e.stdout, "%s was not paused\n", args[0])
			}
			return nil
		}
		return usageErr("unknown subcommand %q: use list, pause or resume", sub)
	})
}
