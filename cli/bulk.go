package cli

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/rpg-archivist/archivist/client"
)

// filterFlags are the flags of archivist tasks that filter.
var filterFlags = map[string]bool{"status": true, "type": true, "priority": true, "node": true, "schedule": true,
	"workflow": true, "search": true, "group": true}

// filterGiven reports whether a filter flag was given.
func filterGiven(fs *flag.FlagSet) bool {
	given := false
	fs.Visit(func(f *flag.Flag) {
		if filterFlags[f.Name] {
			given = true
		}
	})
	return given
}

// bulkTasks runs archivist tasks cancel|retry|delete over the tasks f
// matches: it counts those the operation would change, asks (unless yes),
// and acts. A filter (filtered) or --all is required, so that a bare
// "tasks cancel" does not cancel everything.
func bulkTasks(e *clientEnv, op string, f client.Filter, filtered, all, yes bool) error {
	switch {
	case !filtered && !all && op == "delete":
		return usageErr("delete wants filter flags (--status, --type, ...) or --all")
	case !filtered && !all:
		return usageErr("%s wants a task id, filter flags (--status, --type, ...) or --all", op)
	case filtered && all:
		return usageErr("--all goes without filter flags")
	}
	past := map[string]string{"cancel": "cancelled", "retry": "retried", "delete": "deleted"}[op]
	if !yes {
		count := f
		count.Status = client.BulkStatuses(op, f.Status)
		n := 0
		if len(count.Status) > 0 {
			var err error
			if n, err = e.client.CountTasks(e.ctx, count); err != nil {
				return err
			}
		}
		if n == 0 {
			fmt.Fprintf(e.stderr, "no task to %s matches\n", op)
			return e.bulkResult(past, 0)
		}
		q := fmt.Sprintf("%s %d %s? [y/N] ", strings.ToUpper(op[:1])+op[1:], n, plural(n, "task", "tasks"))
		if op != "cancel" {
			q = fmt.Sprintf("%s %d finished %s (workflow steps left out)? [y/N] ", strings.ToUpper(op[:1])+op[1:], n, plural(n, "task", "tasks"))
		}
		ok, err := confirm(e.stdin, e.stderr, q)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("not confirmed: nothing was changed (--yes skips the question)")
		}
	}
	var n int
	var err error
	switch op {
	case "cancel":
		n, err = e.client.CancelTasks(e.ctx, f)
	case "retry":
		n, err = e.client.RetryTasks(e.ctx, f)
	default:
		n, err = e.client.DeleteTasks(e.ctx, f)
	}
	if err != nil {
		return err
	}
	return e.bulkResult(past, n)
}

// bulkResult prints how many tasks a bulk operation changed.
func (e *clientEnv) bulkResult(past string, n int) error {
	if e.output == "json" {
		return e.json(map[string]int{past: n})
	}
	fmt.Fprintf(e.stdout, "%s %d %s\n", past, n, plural(n, "task", "tasks"))
	return nil
}

// confirm asks question on w and reads the answer from r: yes for "y" or
// "yes" (any case), no for anything else or nothing.
func confirm(r io.Reader, w io.Writer, question string) (bool, error) {
	fmt.Fprint(w, question)
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	if errors.Is(err, io.EOF) && line == "" {
		fmt.Fprintln(w)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
