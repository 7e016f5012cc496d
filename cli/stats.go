package cli

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/rpg-archivist/archivist/client"
)

const statsHelp = `Usage: archivist stats [--window 1h] [--bucket 1m] [--group G] [flags]

Prints the cluster's statistics from the store's rollups, the same on every
node: per bucket the tasks submitted, completed and failed (ended FAILED or
TIMED_OUT) with the median and 95th percentile wait (submission to start)
and run time (start to end); then per task type, per node and per group
over the whole window, with each node's utilization (busy worker time over
worker time). --group narrows the series and totals to one group's tasks
(the per type and per node tables are then left out: the rollups do not
cross groups with them). Windows up to an hour read 10 s rollups (the bucket must be a
multiple of 10s), longer ones up to 24h read 5 min rollups (a multiple of
5m). The default bucket gives about 60 points.

Examples:
  archivist stats
  archivist stats --window 15m --bucket 30s
  archivist stats --window 24h -o json
  archivist stats --window 15m --group campaign-42
`

func cliStats(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var window, bucket time.Duration
	var group string
	return runClient("stats", statsHelp, args, getenv, stdout, stderr, func(fs *flag.FlagSet) {
		fs.DurationVar(&window, "window", time.Hour, "how far back (10s to 24h)")
		fs.DurationVar(&bucket, "bucket", 0, "length of one point (default: about 60 points)")
		fs.StringVar(&group, "group", "", "only the tasks of this group")
	}, func(e *clientEnv, args []string) error {
		if len(args) > 0 {
			return usageErr("stats takes no arguments")
		}
		if window%time.Second != 0 || bucket%time.Second != 0 || window <= 0 || bucket < 0 {
			return usageErr("--window and --bucket are whole seconds, such as 90s, 15m or 1h")
		}
		st, err := e.client.GroupStats(e.ctx, window, bucket, group)
		if err != nil {
			return err
		}
		if e.output == "json" {
			return e.json(st)
		}
		printStats(e, st, group)
		return nil
	})
}

func printStats(e *clientEnv, st *client.Stats, group string) {
	of := ""
	if group != "" {
		of = fmt.Sprintf("Group %q: ", group)
	}
	fmt.Fprintf(e.stdout, "%s%s to %s, in buckets of %s (from %s rollups)\n\n", of, st.From.Local().Format(time.DateTime),
		st.To.Local().Format(time.DateTime), time.Duration(st.BucketSeconds)*time.Second,
		time.Duration(st.ResolutionSeconds)*time.Second)
	var rows [][]string
	for _, p := range st.Series {
		ended := p.Completed + p.Failed
		rows = append(rows, []string{p.At.Local().Format(time.TimeOnly), strconv.Itoa(p.Submitted), strconv.Itoa(p.Completed),
			strconv.Itoa(p.Failed), ms(p.WaitP50Ms, ended), ms(p.WaitP95Ms, ended), ms(p.RunP50Ms, ended), ms(p.RunP95Ms, ended)})
	}
	e.table("AT\tSUBMITTED\tCOMPLETED\tFAILED\tWAIT P50\tWAIT P95\tRUN P50\tRUN P95", rows)
	if group != "" {
		return
	}

	fmt.Fprintln(e.stdout)
	rows = rows[:0]
	for _, t := range st.ByType {
		ended := t.Completed + t.Failed
		rows = append(rows, []string{t.Type, strconv.Itoa(t.Completed), strconv.Itoa(t.Failed),
			ms(t.WaitP95Ms, ended), ms(t.RunP95Ms, ended)})
	}
	if len(rows) == 0 {
		rows = append(rows, []string{"(none)", "0", "0", "-", "-"})
	}
	e.table("TYPE\tCOMPLETED\tFAILED\tWAIT P95\tRUN P95", rows)

	fmt.Fprintln(e.stdout)
	rows = rows[:0]
	for _, n := range st.ByNode {
		util := "-"
		if n.WorkerSeconds > 0 {
			util = fmt.Sprintf("%.1f%%", 100*n.Utilization)
		}
		rows = append(rows, []string{n.NodeID, strconv.Itoa(n.Completed), strconv.Itoa(n.Failed), util,
			(time.Duration(n.BusySeconds*1000) * time.Millisecond).String(),
			(time.Duration(n.WorkerSeconds) * time.Second).String()})
	}
	if len(rows) == 0 {
		rows = append(rows, []string{"(none)", "0", "0", "-", "0s", "0s"})
	}
	e.table("NODE\tCOMPLETED\tFAILED\tUTILIZATION\tBUSY\tWORKER TIME", rows)

	if len(st.ByGroup) == 0 {
		return // no task had a group: no table to show
	}
	fmt.Fprintln(e.stdout)
	rows = rows[:0]
	for _, g := range st.ByGroup {
		ended := g.Completed + g.Failed
		rows = append(rows, []string{g.Group, strconv.Itoa(g.Submitted), strconv.Itoa(g.Completed), strconv.Itoa(g.Failed),
			ms(g.WaitP95Ms, ended), ms(g.RunP95Ms, ended)})
	}
	e.table("GROUP\tSUBMITTED\tCOMPLETED\tFAILED\tWAIT P95\tRUN P95", rows)
}

// ms formats a latency in milliseconds; "-" when no task ended.
func ms(v float64, ended int) string {
	switch {
	case ended == 0:
		return "-"
	case v >= 1000:
		return strconv.FormatFloat(v/1000, 'f', 2, 64) + "s"
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
}
