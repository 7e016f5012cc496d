package cli

import (
	"flag"
	"io"
	"strconv"

	"github.com/rpg-archivist/archivist/client"
)

const groupsHelp = `Usage: archivist groups [-n 20] [flags]

Lists the groups that have tasks (submit --group; finished tasks count until
they are purged), busiest first: by unfinished tasks, then by all tasks.
For each, how many of its tasks are unfinished, wait (SCHEDULED, WAITING,
PENDING, RETRYING), run (ASSIGNED, IN_PROGRESS), completed, failed (FAILED
or TIMED_OUT) and were cancelled; -o json gives every status. Tasks
without a group are not listed.

Examples:
  archivist groups
  archivist groups -n 100 -o json
  archivist tasks list --group campaign-42 --status failed
`

func cliGroups(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var first int
	return runClient("groups", groupsHelp, args, getenv, stdout, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&first, "n", 20, "how many groups (at most 500)")
	}, func(e *clientEnv, args []string) error {
		if len(args) > 0 {
			return usageErr("groups takes no arguments")
		}
		if first < 1 || first > 500 {
			return usageErr("-n is between 1 and 500")
		}
		groups, err := e.client.Groups(e.ctx, first)
		if err != nil {
			return err
		}
		if e.output == "json" {
			return e.json(groups)
		}
		e.table("GROUP\tUNFINISHED\tWAITING\tRUNNING\tCOMPLETED\tFAILED\tCANCELLED\tTOTAL", groupRows(groups))
		return nil
	})
}

func groupRows(groups []*client.GroupCounts) [][]string {
	rows := make([][]string, 0, len(groups))
	for _, g := range groups {
		c := g.Counts
		waiting := c[client.StatusScheduled] + c[client.StatusWaiting] + c[client.StatusPending] + c[client.StatusRetrying]
		running := c[client.StatusAssigned] + c[client.StatusInProgress]
		failed := c[client.StatusFailed] + c[client.StatusTimedOut]
		rows = append(rows, []string{oneLine(g.Group, 40), strconv.Itoa(g.Unfinished), strconv.Itoa(waiting),
			strconv.Itoa(running), strconv.Itoa(c[client.StatusCompleted]), strconv.Itoa(failed),
			strconv.Itoa(c[client.StatusCancelled]), strconv.Itoa(g.Total)})
	}
	return rows
}
