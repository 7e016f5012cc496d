package cli

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/rpg-archivist/archivist/client"
)

const statsHelp = `Usage: archivist stats [--window 1h] [--bucket 1m] [flags]

Prints the cluster's statistics from the store's rollups, the same on every
node: per bucket the tasks submitted, completed and failed (ended FAILED or
TIMED_OUT) with the median and 95th percentile wait (submission to start)
and run time (start to end); then per task type and per node over the
whole window, with each node's utilization (busy worker time over worker
time). Windows up to an hour read 10 s rollups (the bucket must be a
multiple of 10s), longer ones up to 24h read 5 min rollups (a multiple of
5m). The default bucket gives about 60 points.

Examples:
  archivist stats
  archivist stats --window 15m --bucket 30s
  archivist stats --window 24h -o json
`

func cliStats(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var window, bucket time.Duration
	return runClient("stats", statsHelp, args, getenv, stdout, stderr, func(fs *flag.FlagSet) {
		fs.DurationVar(&window, "window", time.Hour, "how far back (10s to 24h)")
		fs.DurationVar(&bucket, "bucket", 0, "length of one point (default: about 60 points)")
	}, func(e *clientEnv, args []string) error {
		if len(args) > 0 {
			return usageErr("stats takes no arguments")
		}
		if window%time.Second != 0 || bucket%time.Second != 0 || window <= 0 || bucket < 0 {
			return usageErr("--window and --bucket are whole seconds, such as 90s, 15m or 1h")
		}
		st, err := e.client.Stats(e.ctx, window, bucket)
		if err != nil {
			return err
		}
		if e.output == "json" {
			return e.json(st)
		}
		printStats(e, st)
		return nil
	})
}

func printStats(e *clientEnv, st *client.Stats) {
	fmt.Fprintf(e.stdout, "%s to %s, in buckets of %s (from %s rollups)\n\n", st.From.Local().Format(time.DateTime),
		st.To.Local().Format(time.DateTime), time.Duration(st.BucketSeconds)*time.Second,
		time.Duration(st.ResolutionSeconds)*time.Second)
	var rows [][]string
	for _, p := range st.Series {
		ended := p.Completed + p.Failed
		rows = append(rows, []string{p.At.Local().Format(time.TimeOnly), strconv.Itoa(p.Submitted), strconv.Itoa(p.Completed),
			strconv.Itoa(p.Failed), ms(p.WaitP50Ms, ended), ms(p.WaitP95Ms, ended), ms(p.RunP50Ms, ended), ms(p.RunP95Ms, ended)})
	}
	e.table("AT\tSUBMITTED\tCOMPLETED\tFAILED\tWAIT P50\tWAIT P95\tRUN P50\tRUN P95", rows)

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
