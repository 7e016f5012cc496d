// Package cli is the client side of the archivist command: the commands
// that talk GraphQL to a node (submit, tasks, schedule, workflow, nodes,
// config, stats, watch, limits, types)
// and those that need none (token, completion, config init). app.Run runs
// a node (serve) and hands every other command to Run.
package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rpg-archivist/archivist/client"
)

// Env is what the commands get from the program that runs them.
type Env struct {
	// Getenv reads the environment (ARCHIVIST_SERVER, ARCHIVIST_TOKEN...).
	Getenv         func(string) string
	Stdout, Stderr io.Writer
	// ConfigFile is the commented config file that archivist config init
	// writes. It lists the options of archivist serve, which are app's:
	// app passes it, so that this package need not know them.
	ConfigFile func() string
}

// Run runs the command args[0] with the rest of args and returns its exit
// code: 0, 1 when it failed, 2 for a mistake in its command line. ok is
// false when args[0] is not a command of this package.
func Run(args []string, e Env) (code int, ok bool) {
	if len(args) == 0 {
		return 0, false
	}
	getenv, stdout, stderr := e.Getenv, e.Stdout, e.Stderr
	switch args[0] {
	case "submit":
		return cliSubmit(args[1:], getenv, stdout, stderr), true
	case "tasks", "task":
		return cliTasks(args[1:], getenv, stdout, stderr), true
	case "nodes", "node":
		return cliNodes(args[1:], getenv, stdout, stderr), true
	case "config":
		return cliConfig(args[1:], getenv, stdout, stderr, e.ConfigFile), true
	case "stats":
		return cliStats(args[1:], getenv, stdout, stderr), true
	case "schedule", "schedules":
		return cliSchedule(args[1:], getenv, stdout, stderr), true
	case "workflow", "workflows":
		return cliWorkflow(args[1:], getenv, stdout, stderr), true
	case "limits", "limit":
		return cliLimits(args[1:], getenv, stdout, stderr), true
	case "types", "task-types":
		return cliTypes(args[1:], getenv, stdout, stderr), true
	case "groups", "group":
		return cliGroups(args[1:], getenv, stdout, stderr), true
	case "watch":
		return cliWatch(args[1:], getenv, stdout, stderr), true
	case "completion":
		return cliCompletion(args[1:], stdout, stderr), true
	case "token":
		return cliToken(args[1:], stdout, stderr), true
	}
	return 0, false
}

// clientEnv is what every command that talks to a node gets.
type clientEnv struct {
	client *client.Client
	output string // table or json
	stdout io.Writer
	stderr io.Writer
	ctx    context.Context
	// stdin answers questions (bulk operations ask before acting).
	stdin io.Reader
}

// errUsage marks an error in the command line (exit code 2).
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func usageErr(format string, args ...any) error { return errUsage{fmt.Sprintf(format, args...)} }

// DefaultServer is the node the commands talk to unless --server or
// ARCHIVIST_SERVER names another: one started with no flags on this machine.
const DefaultServer = "http://127.0.0.1:8080"

// clientFlags adds --server, --token and -o to fs.
func clientFlags(fs *flag.FlagSet, getenv func(string) string) (server, token, output *string) {
	def := getenv("ARCHIVIST_SERVER")
	if def == "" {
		def = DefaultServer
	}
	server = fs.String("server", def, "node to talk to (env ARCHIVIST_SERVER)")
	token = fs.String("token", getenv("ARCHIVIST_TOKEN"), "API key (env ARCHIVIST_TOKEN)")
	output = fs.String("o", "table", "output: table or json")
	return
}

// tlsFlags adds --ca-cert and --insecure-skip-verify to fs; the returned
// function builds the HTTP client they describe.
func tlsFlags(fs *flag.FlagSet, getenv func(string) string) func() (*http.Client, error) {
	ca := fs.String("ca-cert", getenv("ARCHIVIST_CA_CERT"), "PEM file of the CA (or the self-signed certificate) that signed the node's HTTPS certificate (env ARCHIVIST_CA_CERT)")
	skip := fs.Bool("insecure-skip-verify", getenv("ARCHIVIST_INSECURE_SKIP_VERIFY") == "true", "do not verify the node's HTTPS certificate (a --tls-self-signed node in development; env ARCHIVIST_INSECURE_SKIP_VERIFY=true)")
	return func() (*http.Client, error) {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: *skip}
		if *ca != "" {
			pem, err := os.ReadFile(*ca)
			if err != nil {
				return nil, fmt.Errorf("--ca-cert: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--ca-cert %s: no PEM certificate in it", *ca)
			}
			cfg.RootCAs = pool
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = cfg
		return &http.Client{Timeout: time.Minute, Transport: tr}, nil
	}
}

// runClient parses a client command's flags and runs it, mapping errors to
// exit codes: 2 for the command line, 1 for everything else.
func runClient(name, help string, args []string, getenv func(string) string, stdout, stderr io.Writer,
	setup func(fs *flag.FlagSet), run func(e *clientEnv, args []string) error) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	server, token, output := clientFlags(fs, getenv)
	httpClient := tlsFlags(fs, getenv)
	if setup != nil {
		setup(fs)
	}
	fs.Usage = func() {
		fmt.Fprint(stderr, help)
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(interleave(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *output != "table" && *output != "json" {
		fmt.Fprintf(stderr, "archivist %s: -o %q: use table or json\n", name, *output)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hc, err := httpClient()
	if err != nil {
		fmt.Fprintf(stderr, "archivist %s: %v\n", name, err)
		return 2
	}
	e := &clientEnv{client: client.New(*server, client.WithToken(*token), client.WithHTTPClient(hc)), output: *output, stdout: stdout, stderr: stderr, ctx: ctx, stdin: os.Stdin}
	if err := run(e, fs.Args()); err != nil {
		var u errUsage
		if errors.As(err, &u) {
			fmt.Fprintf(stderr, "archivist %s: %v\n\n", name, err)
			fs.Usage()
			return 2
		}
		fmt.Fprintf(stderr, "archivist %s: %v\n", name, err)
		if client.IsUnavailable(err) {
			fmt.Fprintf(stderr, "archivist %s: the node at %s runs but cannot reach its store; nothing was done: try again once the store is back\n", name, *server)
		}
		return 1
	}
	return 0
}

// interleave lets flags follow positional arguments (archivist tasks get
// ID -o json) by moving the positional ones to the end.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil {
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				continue
			}
			if i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		}
	}
	return append(flags, pos...)
}

func (e *clientEnv) json(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (e *clientEnv) table(header string, rows [][]string) {
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, header)
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	w.Flush()
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Since(t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return d.String() + " ago"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func taskRows(ts []*client.Task) [][]string {
	rows := make([][]string, 0, len(ts))
	for _, t := range ts {
		status := t.Status
		if t.RunAt != nil && (t.Status == client.StatusScheduled || t.Status == client.StatusRetrying) {
			// When it runs (again): the wait, to the second.
			status += " (in " + max(0, time.Until(*t.RunAt)).Round(time.Second).String() + ")"
		}
		if t.HeldBy != "" && t.Status == client.StatusPending {
			status += " (held: " + t.HeldBy + ")"
		}
		rows = append(rows, []string{t.ID, t.Type, orDash(oneLine(t.Group, 24)), status, t.Priority, strconv.Itoa(t.Attempts),
			fmt.Sprintf("%.0f%%", t.Progress*100), orDash(t.NodeID), ago(t.CreatedAt), orDash(oneLine(t.Error, 60))})
	}
	return rows
}

const taskHeader = "ID\tTYPE\tGROUP\tSTATUS\tPRIORITY\tATTEMPTS\tPROGRESS\tNODE\tCREATED\tERROR"

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n-1] + "…"
	}
	return s
}

// readInput reads a JSON argument: inline JSON, @file, or @- for stdin.
func readInput(arg string) (json.RawMessage, error) {
	if arg == "" {
		return nil, nil
	}
	data := []byte(arg)
	if strings.HasPrefix(arg, "@") {
		var err error
		if arg == "@-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(arg[1:])
		}
		if err != nil {
			return nil, err
		}
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("not valid JSON: %s", oneLine(string(data), 80))
	}
	return json.RawMessage(data), nil
}

const submitHelp = `Usage: archivist submit TYPE [--input JSON|@file] [flags]

Submits a task to the cluster and prints its id; with --wait, follows it
(progress bar) and prints its result, exiting 1 if it did not complete.

Examples:
  archivist submit echo --input '{"hello": "table"}' --wait
  archivist submit dice.simulate --input '{"expr": "4d6kh3", "trials": 10000}' --priority high --wait -o json
  archivist submit sleep --input @job.json --timeout 30s --retries 0
  archivist submit dice.simulate --input @job.json --retries 5 --retry-backoff 2s --max-backoff 1m
  archivist submit session.summarize --input @s12.json --in 1h
  archivist submit campaign.reindex --at 2026-12-24T03:00:00+01:00
  archivist submit image.thumbnail --input @h7.json --unique thumb:handout-7 --unique-for 24h
  archivist submit note.reindex --input @n9.json --unique reindex:note-9 --replace --in 30s
  archivist submit image.thumbnail --input @h8.json --group campaign-42

A task given --in or --at is SCHEDULED until then. With --unique, a task
whose key another task holds is not submitted again: the id printed is
that task's (a note on stderr says so); with --replace the holder is
cancelled instead and the new task takes the key, which with --in makes
a debounce. --group puts the task in a group, typically its campaign:
placement takes groups in turn, and tasks list --group and archivist
groups count by it.
`

func cliSubmit(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var input, metadata, priority string
	var timeout, retryBackoff, maxBackoff, in, uniqueFor time.Duration
	var at time.Time
	var unique, group string
	var retries int
	var wait, replace bool
	return runClient("submit", submitHelp, args, getenv, stdout, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&input, "input", "", "task input: JSON, @file, or @- for standard input")
		fs.StringVar(&metadata, "metadata", "", "task metadata: JSON or @file")
		fs.StringVar(&priority, "priority", "", "low, normal, high or critical (default normal)")
		fs.DurationVar(&timeout, "timeout", 0, "timeout of one attempt (default: the cluster's)")
		fs.IntVar(&retries, "retries", -1, "retries after a failure (default: the cluster's)")
		fs.Func("retry-backoff", "this task's wait before its first retry, a `duration` such as 2s that doubles\n"+
			"after each further failure (default: the cluster's)", backoffFlag(&retryBackoff))
		fs.Func("max-backoff", "this task's longest wait between retries, a `duration` such as 1m (default: the cluster's)",
			backoffFlag(&maxBackoff))
		fs.Func("in", "run the task after this `duration`, such as 90s or 1h (SCHEDULED until then)", func(v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil || d < 0 {
				return fmt.Errorf("want a duration such as 90s or 1h, not %q", v)
			}
			in = d
			return nil
		})
		fs.Func("at", "run the task at this `time`: RFC 3339 (2026-12-24T03:00:00Z) or local 2026-12-24T03:00", func(v string) error {
			t, err := parseAt(v)
			at = t
			return err
		})
		fs.StringVar(&unique, "unique", "", "a unique `key`: while a task with it is unfinished, submitting it again returns that task")
		fs.DurationVar(&uniqueFor, "unique-for", 0, "keep the --unique key this long after the task finished (default: only while unfinished)")
		fs.BoolVar(&replace, "replace", false, "with --unique: cancel the task holding the key and submit this one instead")
		fs.BoolVar(&wait, "wait", false, "wait for the task to finish, showing its progress")
		fs.StringVar(&group, "group", "", "the `group` of the task, typically a campaign id (default: none)")
	}, func(e *clientEnv, args []string) error {
		if len(args) != 1 {
			return usageErr("want one task type, got %d arguments", len(args))
		}
		if retryBackoff > 0 && maxBackoff > 0 && maxBackoff < retryBackoff {
			return usageErr("--max-backoff %s must not be under --retry-backoff %s", maxBackoff, retryBackoff)
		}
		if in > 0 && !at.IsZero() {
			return usageErr("give --in or --at, not both")
		}
		if unique == "" && (uniqueFor != 0 || replace) {
			return usageErr("--unique-for and --replace need --unique")
		}
		spec := client.TaskSpec{Type: args[0], Priority: strings.ToUpper(priority), Timeout: timeout,
			RetryBackoff: retryBackoff, MaxBackoff: maxBackoff, RunAt: at, Delay: in,
			UniqueKey: unique, UniqueFor: uniqueFor, Group: group}
		if replace {
			spec.OnDuplicate = "REPLACE"
		}
		var err error
		if spec.Input, err = readInput(input); err != nil {
			return usageErr("--input: %v", err)
		}
		if spec.Metadata, err = readInput(metadata); err != nil {
			return usageErr("--metadata: %v", err)
		}
		if retries >= 0 {
			spec.MaxRetries = &retries
		}
		t, err := e.client.Submit(e.ctx, spec)
		if err != nil {
			return err
		}
		switch {
		case t.Duplicate:
			fmt.Fprintf(e.stderr, "a task with unique key %q already exists (%s): not submitted again\n", unique, t.Status)
		case t.Status == client.StatusScheduled && t.RunAt != nil:
			fmt.Fprintf(e.stderr, "scheduled for %s\n", t.RunAt.Local().Format(time.RFC3339))
		}
		if !wait {
			if e.output == "json" {
				return e.json(t)
			}
			fmt.Fprintln(e.stdout, t.ID)
			return nil
		}
		bar := newProgressBar(e.stderr)
		done, err := e.client.Wait(e.ctx, t.ID, bar.update)
		bar.finish()
		if done != nil {
			if e.output == "json" {
				_ = e.json(done)
			} else if done.Status == client.StatusCompleted {
				fmt.Fprintln(e.stdout, string(done.Result))
			}
		}
		return err
	})
}

// parseAt reads --at: an RFC 3339 time, or a local date and time without a
// zone (2026-12-24T03:00, with or without seconds, T or a space).
func parseAt(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("want a time such as 2026-12-24T03:00:00Z or 2026-12-24T03:00 (local), not %q", v)
}

// backoffFlag reads --retry-backoff or --max-backoff into dst: a Go
// duration above 0, in whole milliseconds (what the API counts); the node
// checks the upper bound. flag reports an error with the flag's name.
func backoffFlag(dst *time.Duration) func(string) error {
	return func(v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		switch {
		case err != nil:
			return errors.New("not a duration: use a Go duration such as 500ms, 2s or 1m30s")
		case d <= 0:
			return errors.New("must be above 0 (leave the flag out for the cluster's)")
		case d%time.Millisecond != 0:
			return errors.New("must be whole milliseconds")
		}
		*dst = d
		return nil
	}
}

// progressBar shows a task's progress on a terminal, or one line per
// status change elsewhere.
type progressBar struct {
	w    io.Writer
	tty  bool
	last string
}

func newProgressBar(w io.Writer) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressBar{w: w, tty: tty}
}

func (p *progressBar) update(t *client.Task) {
	if !p.tty {
		line := t.Status
		if t.ProgressMessage != "" {
			line += ": " + t.ProgressMessage
		}
		if line != p.last {
			fmt.Fprintf(p.w, "%s %s\n", t.ID, line)
			p.last = line
		}
		return
	}
	const width = 30
	n := int(t.Progress * width)
	fmt.Fprintf(p.w, "\r\033[K[%s%s] %3.0f%% %s %s", strings.Repeat("#", n), strings.Repeat(".", width-n),
		t.Progress*100, t.Status, oneLine(t.ProgressMessage, 40))
}

func (p *progressBar) finish() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

const tasksHelp = `Usage: archivist tasks list|get|cancel|retry|delete [ID] [flags]

cancel and retry act on one task given by its id, or, without an id, on
every task the filter flags match (the flags of list: --status, --type,
--priority, --node, --schedule, --workflow, --search), or on every task
with --all; delete acts on a filter only. Before acting on a filter they
say how many tasks it would change and ask; --yes skips the question.
cancel stops unfinished tasks (running ones are asked to stop); retry puts
FAILED, CANCELLED and TIMED_OUT tasks back in the queue; delete removes
finished tasks (an admin key). retry and delete leave workflow steps out:
retry or let their workflow go instead.

Examples:
  archivist tasks list --status failed,timed_out --type dice.simulate
  archivist tasks list --status scheduled
  archivist tasks list --schedule nightly-reindex
  archivist tasks list --workflow 06h1vtv3xnr9fa5e3na5tzr
  archivist tasks list --group campaign-42 --status pending
  archivist tasks get 06h1vtv3xnr9fa5e3na5tzr -o json
  archivist tasks cancel 06h1vtv3xnr9fa5e3na5tzr
  archivist tasks retry 06h1vtv3xnr9fa5e3na5tzr
  archivist tasks retry --status failed,timed_out --type image.thumbnail
  archivist tasks cancel --status pending --type image.thumbnail --yes
  archivist tasks delete --status completed --all --yes
`

func cliTasks(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var status, typ, priority, nodeID, schedule, workflow, group, search, after string
	var first int
	var all, yes bool
	var tfs *flag.FlagSet
	return runClient("tasks", tasksHelp, args, getenv, stdout, stderr, func(fs *flag.FlagSet) {
		tfs = fs
		fs.BoolVar(&all, "all", false, "cancel, retry, delete: every task (with no filter flag)")
		fs.BoolVar(&yes, "yes", false, "cancel, retry, delete of a filter: do not ask first")
		fs.StringVar(&status, "status", "", "list, cancel, retry, delete: comma-separated statuses (scheduled, pending, in_progress, failed, ...)")
		fs.StringVar(&schedule, "schedule", "", "list, cancel, retry, delete: tasks submitted by the schedule of this name")
		fs.StringVar(&workflow, "workflow", "", "list, cancel, retry, delete: the steps of the workflow of this `id`")
		fs.StringVar(&typ, "type", "", "list, cancel, retry, delete: task type")
		fs.StringVar(&priority, "priority", "", "list, cancel, retry, delete: priority")
		fs.StringVar(&nodeID, "node", "", "list, cancel, retry, delete: node id")
		fs.StringVar(&search, "search", "", "list, cancel, retry, delete: text in the id, type or error")
		fs.StringVar(&group, "group", "", "list, cancel, retry, delete: the tasks of this `group`")
		fs.IntVar(&first, "n", 50, "list: how many (at most 500)")
		fs.StringVar(&after, "after", "", "list: the cursor printed at the end of the previous page")
	}, func(e *clientEnv, args []string) error {
		if len(args) == 0 {
			return usageErr("want a subcommand: list, get, cancel, retry or delete")
		}
		sub, args := args[0], args[1:]
		f := client.Filter{Type: typ, Priority: strings.ToUpper(priority), NodeID: nodeID, Schedule: schedule, WorkflowID: workflow, Search: search, Group: group}
		for _, s := range SplitList(status) {
			f.Status = append(f.Status, strings.ToUpper(s))
		}
		if (sub == "cancel" || sub == "retry" || sub == "delete") && len(args) == 0 {
			return bulkTasks(e, sub, f, filterGiven(tfs), all, yes)
		}
		if all || yes {
			return usageErr("--all and --yes go with cancel, retry or delete of a filter")
		}
		switch sub {
		case "list", "ls":
			if len(args) > 0 {
				return usageErr("list takes no arguments")
			}
			page, err := e.client.List(e.ctx, f, first, after)
			if err != nil {
				return err
			}
			if e.output == "json" {
				return e.json(page)
			}
			e.table(taskHeader, taskRows(page.Tasks))
			more := ""
			if page.HasNext {
				more = fmt.Sprintf("; next page: --after %s", page.EndCursor)
			}
			fmt.Fprintf(e.stderr, "%d of %d tasks%s\n", len(page.Tasks), page.TotalCount, more)
			return nil
		case "get", "cancel", "retry":
			if len(args) != 1 {
				return usageErr("%s wants one task id", sub)
			}
			var t *client.Task
			var err error
			switch sub {
			case "get":
				t, err = e.client.Get(e.ctx, args[0])
			case "cancel":
				t, err = e.client.Cancel(e.ctx, args[0])
			default:
				t, err = e.client.Retry(e.ctx, args[0])
			}
			if err != nil {
				return err
			}
			if e.output == "json" || sub == "get" {
				return e.json(t)
			}
			e.table(taskHeader, taskRows([]*client.Task{t}))
			return nil
		}
		if sub == "delete" {
			return usageErr("delete takes filter flags, not an id")
		}
		return usageErr("unknown subcommand %q: use list, get, cancel, retry or delete", sub)
	})
}

const nodesHelp = `Usage: archivist nodes list|drain|resume|update [ID] [flags]

update changes a node's role, workers, name or capabilities (an admin key);
the node applies them at once, without a restart, and keeps them across
restarts (a flag given to archivist serve at a later start wins). A node made
WORKER gives up leadership; one made MASTER finishes its tasks and gets no
new ones. --capabilities "" returns to every type the node has a handler for.

Examples:
  archivist nodes list
  archivist nodes drain node-2
  archivist nodes resume node-2
  archivist nodes update node-2 --role worker --workers 8
  archivist nodes update node-3 --name scribe --capabilities 'text.*,dice.simulate'
`

func cliNodes(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var upd client.NodeUpdate
	var role, caps string
	var nfs *flag.FlagSet
	return runClient("nodes", nodesHelp, args, getenv, stdout, stderr, func(fs *flag.FlagSet) {
		nfs = fs
		fs.StringVar(&role, "role", "", "update: master, worker or hybrid")
		fs.IntVar(&upd.Workers, "workers", 0, "update: tasks the node runs at once (1-10000)")
		fs.StringVar(&upd.Name, "name", "", "update: display name")
		fs.StringVar(&caps, "capabilities", "", "update: comma-separated task types or patterns such as text.* (\"\": any type)")
	}, func(e *clientEnv, args []string) error {
		if len(args) == 0 {
			return usageErr("want a subcommand: list, drain, resume or update")
		}
		sub, args := args[0], args[1:]
		var nodes []*client.Node
		var err error
		switch sub {
		case "list", "ls":
			if len(args) > 0 {
				return usageErr("list takes no arguments")
			}
			nodes, err = e.client.Nodes(e.ctx)
		case "drain", "resume":
			if len(args) != 1 {
				return usageErr("%s wants one node id", sub)
			}
			var n *client.Node
			if sub == "drain" {
				n, err = e.client.Drain(e.ctx, args[0])
			} else {
				n, err = e.client.Resume(e.ctx, args[0])
			}
			nodes = []*client.Node{n}
		case "update":
			if len(args) != 1 {
				return usageErr("update wants one node id")
			}
			given := map[string]bool{}
			nfs.Visit(func(f *flag.Flag) { given[f.Name] = true })
			if !given["role"] && !given["workers"] && !given["name"] && !given["capabilities"] {
				return usageErr("update wants --role, --workers, --name or --capabilities")
			}
			if given["workers"] && upd.Workers < 1 {
				return usageErr("--workers must be between 1 and 10000")
			}
			if given["name"] && strings.TrimSpace(upd.Name) == "" {
				return usageErr("--name must not be empty")
			}
			if given["role"] {
				r, err := EnumValue("role", role, "MASTER", "WORKER", "HYBRID")
				if err != nil {
					return usageErr("%v", err)
				}
				upd.Role = r
			}
			if given["capabilities"] {
				upd.Capabilities = append([]string{}, SplitList(caps)...)
			}
			var n *client.Node
			n, err = e.client.UpdateNode(e.ctx, args[0], upd)
			nodes = []*client.Node{n}
		default:
			return usageErr("unknown subcommand %q: use list, drain, resume or update", sub)
		}
		if err != nil {
			return err
		}
		if e.output == "json" {
			return e.json(nodes)
		}
		var rows [][]string
		for _, n := range nodes {
			leader := ""
			if n.IsLeader {
				leader = "leader"
			}
			rows = append(rows, []string{n.ID, n.Role, n.Status, leader, fmt.Sprintf("%d/%d", n.ActiveTasks, n.Workers),
				fmt.Sprintf("%.0f%%", n.Health.CPUPercent), fmt.Sprintf("%.0f%%", n.Health.MemoryPercent),
				fmt.Sprintf("%.2f", n.Health.Load1), orDash(strings.Join(n.Capabilities, ",")), ago(n.LastHeartbeat), n.Address})
		}
		e.table("ID\tROLE\tSTATUS\tLEADER\tBUSY/WORKERS\tCPU\tMEMORY\tLOAD1\tCAPABILITIES\tHEARTBEAT\tADDRESS", rows)
		return nil
	})
}

const configHelp = `Usage: archivist config get | config set KEY=VALUE ... [flags]

Reads or changes the cluster configuration at run time. Keys are the fields
of DistributedProcessingConfig (archivist config get lists them);
thresholds are set as thresholds.cpuPercent=80.

Examples:
  archivist config get
  archivist config set workers=8 strategy=LEAST_BUSY
  archivist config set thresholds.cpuPercent=80 heartbeatIntervalMs=500
  archivist config set enabled=false
`

func cliConfig(args []string, getenv func(string) string, stdout, stderr io.Writer, configFile func() string) int {
	if len(args) > 0 && args[0] == "init" {
		return configInit(args[1:], stdout, stderr, configFile)
	}
	return runClient("config", configHelp, args, getenv, stdout, stderr, nil, func(e *clientEnv, args []string) error {
		if len(args) == 0 {
			return usageErr("want a subcommand: get, set or init")
		}
		var cfg client.Config
		var err error
		switch args[0] {
		case "get":
			if len(args) > 1 {
				return usageErr("get takes no arguments")
			}
			cfg, err = e.client.Config(e.ctx)
		case "set":
			if len(args) == 1 {
				return usageErr("set wants KEY=VALUE pairs")
			}
			input := map[string]any{}
			for _, kv := range args[1:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usageErr("%q is not KEY=VALUE", kv)
				}
				setPath(input, k, parseValue(k, v))
			}
			cfg, err = e.client.UpdateConfig(e.ctx, input)
		default:
			return usageErr("unknown subcommand %q: use get, set or init", args[0])
		}
		if err != nil {
			return err
		}
		if e.output == "json" {
			return e.json(cfg)
		}
		printConfig(e.stdout, "", cfg)
		return nil
	})
}

// parseValue turns a command-line value into the JSON type the API wants:
// numbers, booleans, lists (peers) and enum or string values.
func parseValue(key, v string) any {
	if key == "peers" {
		return SplitList(v)
	}
	if b, err := strconv.ParseBool(v); err == nil && (v == "true" || v == "false") {
		return b
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		return n
	}
	return strings.ToUpper(strings.ReplaceAll(v, "-", "_"))
}

func setPath(m map[string]any, key string, v any) {
	head, rest, nested := strings.Cut(key, ".")
	if !nested {
		m[key] = v
		return
	}
	sub, _ := m[head].(map[string]any)
	if sub == nil {
		sub = map[string]any{}
		m[head] = sub
	}
	setPath(sub, rest, v)
}

func printConfig(w io.Writer, prefix string, cfg map[string]any) {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := cfg[k].(type) {
		case map[string]any:
			printConfig(w, prefix+k+".", v)
		case nil:
			fmt.Fprintf(w, "%s%s: -\n", prefix, k)
		default:
			fmt.Fprintf(w, "%s%s: %v\n", prefix, k, v)
		}
	}
}

const watchHelp = `Usage: archivist watch [tasks|nodes] [flags]

Streams changes live until interrupted: task changes by default, or node
heartbeats with health.

Examples:
  archivist watch
  archivist watch tasks --type dice.simulate -o json
  archivist watch tasks --group campaign-42
  archivist watch nodes
`

func cliWatch(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var typ, status, group string
	return runClient("watch", watchHelp, args, getenv, stdout, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&typ, "type", "", "tasks: only this type")
		fs.StringVar(&group, "group", "", "tasks: only this `group`")
		fs.StringVar(&status, "status", "", "tasks: only these statuses (comma-separated)")
	}, func(e *clientEnv, args []string) error {
		what := "tasks"
		if len(args) > 0 {
			what = args[0]
		}
		if len(args) > 1 || (what != "tasks" && what != "nodes") {
			return usageErr("watch tasks or watch nodes")
		}
		for attempt := 0; e.ctx.Err() == nil; attempt++ {
			var s *client.Stream
			var err error
			if what == "nodes" {
				s, err = e.client.WatchNodes(e.ctx, "")
			} else {
				f := &client.Filter{Type: typ, Group: group}
				for _, st := range SplitList(status) {
					f.Status = append(f.Status, strings.ToUpper(st))
				}
				s, err = e.client.WatchTasks(e.ctx, "", f)
			}
			if err != nil {
				if attempt >= 3 || client.CodeOf(err) != "" {
					return err
				}
				fmt.Fprintf(e.stderr, "watch: %v; reconnecting\n", err)
				time.Sleep(time.Second << attempt)
				continue
			}
			attempt = 0
			for ev := range s.C {
				switch {
				case e.output == "json" && ev.Task != nil:
					_ = json.NewEncoder(e.stdout).Encode(ev.Task)
				case e.output == "json":
					_ = json.NewEncoder(e.stdout).Encode(ev.Node)
				case ev.Task != nil:
					t := ev.Task
					fmt.Fprintf(e.stdout, "%s  %-22s %-14s %-11s attempt %d  %3.0f%%  %s %s\n", time.Now().Format("15:04:05.000"),
						t.ID, t.Type, t.Status, t.Attempts, t.Progress*100, orDash(t.NodeID), oneLine(t.Error+t.ProgressMessage, 60))
				default:
					n := ev.Node
					fmt.Fprintf(e.stdout, "%s  %-16s %-8s cpu %5.1f%%  mem %5.1f%%  load %.2f  %d/%d busy\n", time.Now().Format("15:04:05.000"),
						n.ID, n.Status, n.Health.CPUPercent, n.Health.MemoryPercent, n.Health.Load1, n.ActiveTasks, n.Workers)
				}
			}
			if err := s.Err(); err != nil && e.ctx.Err() == nil {
				fmt.Fprintf(e.stderr, "watch: %v; reconnecting\n", err)
				time.Sleep(time.Second)
			}
		}
		return nil
	})
}
