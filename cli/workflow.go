package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"

	"github.com/rpg-archivist/archivist/client"
)

const workflowHelp = `Usage: archivist workflow submit FILE [--wait]
       archivist workflow list [--status S,...] [--search TEXT] | show ID | cancel ID | retry ID

A workflow is a graph of tasks: each step runs once the steps it depends on
completed, and its input may use {"$ref": "STEP.result"} (or STEP.result.a.b)
to take the result of one of them. submit reads the workflow from a YAML or
JSON file (- for standard input):

  name: session 12                 # required
  onFailure: FAIL_FAST             # or CONTINUE (default FAIL_FAST)
  group: campaign-42               # optional: the group of every step's task
  metadata: {campaign: tomb}       # optional, any JSON
  steps:                           # 1 to 1000 steps
    - key: notes                   # letters, digits, - or _; unique
      type: echo
      input: {text: "..."}
    - key: index
      dependsOn: [notes]
      type: text.index
      input: {text: {$ref: notes.result.text}}
      priority: high               # optional: low, normal, high, critical
      timeout: 2m                  # optional: a duration, or seconds
      maxRetries: 2                # optional
      retryBackoff: 500ms          # optional, and maxBackoff
      metadata: {any: json}        # optional

--wait shows the steps live until the workflow ends, and exits 0 when it
COMPLETED, 1 when it FAILED or was CANCELLED. cancel stops every unfinished
step; retry runs again the steps of a FAILED or CANCELLED workflow that did
not complete (completed steps keep their results).

Examples:
  archivist workflow submit examples/session-ingest.yaml --wait
  archivist workflow list --status running,failed
  archivist workflow show 06h1vtv3xnr9fa5e3na5tzr
  archivist workflow retry 06h1vtv3xnr9fa5e3na5tzr
  archivist tasks list --workflow 06h1vtv3xnr9fa5e3na5tzr
`

func cliWorkflow(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var wait bool
	var status, search, after string
	var first int
	var wfs *flag.FlagSet
	return runClient("workflow", workflowHelp, args, getenv, stdout, stderr, func(fs *flag.FlagSet) {
		wfs = fs
		fs.BoolVar(&wait, "wait", false, "submit: show the steps live until the workflow ends; exit 1 unless it COMPLETED")
		fs.StringVar(&status, "status", "", "list: comma-separated statuses (running, completed, failed, cancelled)")
		fs.StringVar(&search, "search", "", "list: text in the id or name")
		fs.IntVar(&first, "n", 50, "list: how many (at most 500)")
		fs.StringVar(&after, "after", "", "list: the cursor printed at the end of the previous page")
	}, func(e *clientEnv, args []string) error {
		if len(args) == 0 {
			return usageErr("want a subcommand: submit, list, show, cancel or retry")
		}
		sub, args := args[0], args[1:]
		given := map[string]bool{}
		wfs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
		for name, only := range map[string]string{"wait": "submit", "status": "list", "search": "list", "n": "list", "after": "list"} {
			if given[name] && sub != only && !(only == "list" && sub == "ls") {
				return usageErr("--%s goes with %s, not %s", name, only, sub)
			}
		}
		switch sub {
		case "submit":
			if len(args) != 1 {
				return usageErr("submit wants one file (YAML or JSON; - for standard input)")
			}
			spec, wf, err := readWorkflowFile(args[0])
			if err != nil {
				return err
			}
			w, err := e.client.SubmitWorkflow(e.ctx, spec)
			if err != nil {
				return wf.locate(err)
			}
			if !wait {
				if e.output == "json" {
					return e.json(w)
				}
				fmt.Fprintln(e.stdout, w.ID)
				return nil
			}
			fmt.Fprintf(e.stderr, "workflow %s (%s): %d steps\n", w.ID, w.Name, w.StepCount)
			return waitWorkflow(e, w)
		case "list", "ls":
			if len(args) > 0 {
				return usageErr("list takes no arguments")
			}
			f := client.WorkflowFilter{Search: search}
			for _, s := range SplitList(status) {
				v, err := EnumValue("status", s, client.WorkflowRunning, client.WorkflowCompleted, client.WorkflowFailed, client.WorkflowCancelled)
				if err != nil {
					return usageErr("%v", err)
				}
				f.Status = append(f.Status, v)
			}
			page, err := e.client.Workflows(e.ctx, f, first, after)
			if err != nil {
				return err
			}
			if e.output == "json" {
				return e.json(page)
			}
			e.table(workflowHeader, workflowRows(page.Workflows))
			more := ""
			if page.HasNext {
				more = fmt.Sprintf("; next page: --after %s", page.EndCursor)
			}
			fmt.Fprintf(e.stderr, "%d of %d workflows%s\n", len(page.Workflows), page.TotalCount, more)
			return nil
		case "show", "get", "cancel", "retry":
			if len(args) != 1 {
				return usageErr("%s wants one workflow id", sub)
			}
			var w *client.Workflow
			var err error
			switch sub {
			case "cancel":
				w, err = e.client.CancelWorkflow(e.ctx, args[0])
			case "retry":
				w, err = e.client.RetryWorkflow(e.ctx, args[0])
			default:
				w, err = e.client.Workflow(e.ctx, args[0])
			}
			if err != nil {
				return err
			}
			if e.output == "json" {
				return e.json(w)
			}
			printWorkflow(e.stdout, w)
			return nil
		}
		return usageErr("unknown subcommand %q: use submit, list, show, cancel or retry", sub)
	})
}

// waitWorkflow shows the steps of w live, through a subscription, until it
// leaves RUNNING. A subscription that breaks is opened again (its first
// message is the current state, so nothing is missed), a few times in a
// row at most. It returns an error (exit code 1) unless the workflow
// COMPLETED.
func waitWorkflow(e *clientEnv, w *client.Workflow) error {
	const maxFailures = 5
	view := newWorkflowView(e.stderr)
	view.update(w)
	stopped := func() error {
		return fmt.Errorf("stopped waiting; workflow %s goes on (archivist workflow show %s)", w.ID, w.ID)
	}
	failures := 0
	for w.Status == client.WorkflowRunning {
		s, err := e.client.WatchWorkflow(e.ctx, w.ID)
		if err == nil {
			got := false
			for ev := range s.C {
				if ev.Workflow == nil {
					continue
				}
				got, w = true, ev.Workflow
				view.update(w)
				if w.Status != client.WorkflowRunning {
					break
				}
			}
			s.Close()
			if w.Status != client.WorkflowRunning {
				break
			}
			if got {
				failures = 0
			}
			if err = s.Err(); err == nil {
				err = errors.New("the subscription ended")
			}
		}
		switch {
		case e.ctx.Err() != nil:
			return stopped()
		case client.CodeOf(err) != "" && !client.IsUnavailable(err):
			return err // refused (NOT_FOUND, a role...): trying again will not help
		}
		if failures++; failures > maxFailures {
			return fmt.Errorf("follow workflow %s: %w", w.ID, err)
		}
		select {
		case <-time.After(time.Duration(failures) * 500 * time.Millisecond):
		case <-e.ctx.Done():
			return stopped()
		}
	}
	if e.output == "json" {
		if err := e.json(w); err != nil {
			return err
		}
	} else {
		printWorkflow(e.stdout, w)
	}
	if w.Status != client.WorkflowCompleted {
		return fmt.Errorf("workflow %s %s: %s", w.ID, w.Status, orDash(w.Error))
	}
	return nil
}

// workflowView shows the steps of a workflow as they change: a table
// redrawn in place on a terminal, a line per change of a step elsewhere.
type workflowView struct {
	w     io.Writer
	tty   bool
	lines int               // lines drawn last time (terminal)
	last  map[string]string // step -> what was printed (not a terminal)
}

func newWorkflowView(w io.Writer) *workflowView {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &workflowView{w: w, tty: tty, last: map[string]string{}}
}

func (v *workflowView) update(w *client.Workflow) {
	if !v.tty {
		for _, s := range w.Steps {
			line := stepState(s)
			if v.last[s.Key] != line {
				fmt.Fprintf(v.w, "%s: %s\n", s.Key, line)
				v.last[s.Key] = line
			}
		}
		return
	}
	var b strings.Builder
	if v.lines > 0 {
		// Back to the top of the last drawing, which is cleared.
		fmt.Fprintf(&b, "\033[%dA\r\033[J", v.lines)
	}
	fmt.Fprintf(&b, "%s %s %3.0f%%\n", w.Name, w.Status, w.Progress*100)
	lines := 1
	if len(w.Steps) <= maxDrawnSteps {
		for _, s := range w.Steps {
			fmt.Fprintf(&b, "  %-24s %s\n", oneLine(s.Key, 24), stepState(s))
			lines++
		}
	} else {
		// Too many to draw: how many are in each status, and the running
		// ones.
		counts := map[string]int{}
		var running []client.WorkflowStep
		for _, s := range w.Steps {
			status := "REMOVED"
			if s.Task != nil {
				status = s.Task.Status
			}
			counts[status]++
			if status == client.StatusInProgress && len(running) < maxDrawnSteps/2 {
				running = append(running, s)
			}
		}
		var parts []string
		for _, st := range []string{client.StatusWaiting, client.StatusPending, client.StatusAssigned, client.StatusInProgress,
			client.StatusRetrying, client.StatusCompleted, client.StatusFailed, client.StatusTimedOut, client.StatusCancelled, "REMOVED"} {
			if counts[st] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
			}
		}
		fmt.Fprintf(&b, "  %d steps: %s\n", len(w.Steps), strings.Join(parts, ", "))
		lines++
		for _, s := range running {
			fmt.Fprintf(&b, "  %-24s %s\n", oneLine(s.Key, 24), stepState(s))
			lines++
		}
	}
	fmt.Fprint(v.w, b.String())
	v.lines = lines
}

// maxDrawnSteps is the most steps the live view draws one per line; a
// larger workflow is summed up.
const maxDrawnSteps = 20

// stepState is a step's status, with its progress while it runs.
func stepState(s client.WorkflowStep) string {
	t := s.Task
	if t == nil {
		return "(task removed)"
	}
	line := t.Status
	if t.Status == client.StatusInProgress {
		line += fmt.Sprintf(" %3.0f%%", t.Progress*100)
		if t.ProgressMessage != "" {
			line += " " + oneLine(t.ProgressMessage, 40)
		}
	}
	if t.Error != "" && t.Finished() {
		line += ": " + oneLine(t.Error, 80)
	}
	return line
}

const workflowHeader = "ID\tNAME\tSTATUS\tPROGRESS\tSTEPS\tCREATED\tERROR"

func workflowRows(list []*client.Workflow) [][]string {
	rows := make([][]string, 0, len(list))
	for _, w := range list {
		rows = append(rows, []string{w.ID, oneLine(w.Name, 40), w.Status, fmt.Sprintf("%.0f%%", w.Progress*100),
			strconv.Itoa(w.StepCount), ago(w.CreatedAt), oneLine(orDash(w.Error), 60)})
	}
	return rows
}

func printWorkflow(out io.Writer, w *client.Workflow) {
	line := func(k, v string) { fmt.Fprintf(out, "%-10s %s\n", k+":", v) }
	line("id", w.ID)
	line("name", w.Name)
	line("status", w.Status)
	line("progress", fmt.Sprintf("%.0f%% of %d steps", w.Progress*100, w.StepCount))
	line("onFailure", w.OnFailure)
	if w.Group != "" {
		line("group", w.Group)
	}
	if w.Error != "" {
		line("error", w.Error)
	}
	line("created", w.CreatedAt.UTC().Format(time.RFC3339))
	if w.CompletedAt != nil {
		line("completed", w.CompletedAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTATUS\tDEPENDS ON\tADDED BY\tTASK\tTYPE\tERROR")
	for _, s := range w.Steps {
		status, id, typ, errMsg := "-", "-", "-", "-"
		if t := s.Task; t != nil {
			status, id, typ = t.Status, t.ID, t.Type
			if t.Status == client.StatusInProgress {
				status += fmt.Sprintf(" %.0f%%", t.Progress*100)
			}
			errMsg = oneLine(orDash(t.Error), 60)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Key, status, orDash(strings.Join(s.DependsOn, ",")), orDash(s.AddedBy), id, typ, errMsg)
	}
	tw.Flush()
}

// workflowFile is a workflow as its file writes it.
type workflowFile struct {
	Name      string         `yaml:"name" json:"name"`
	OnFailure string         `yaml:"onFailure" json:"onFailure"`
	Group     string         `yaml:"group" json:"group"`
	Metadata  any            `yaml:"metadata" json:"metadata"`
	Steps     []workflowStep `yaml:"steps" json:"steps"`

	// path names the file in messages; lines holds the line of each
	// step, by key.
	path  string
	lines map[string]int
}

// workflowStep is one step of a workflow file.
type workflowStep struct {
	Key          string   `yaml:"key"`
	DependsOn    []string `yaml:"dependsOn"`
	Type         string   `yaml:"type"`
	Input        any      `yaml:"input"`
	Priority     string   `yaml:"priority"`
	Timeout      any      `yaml:"timeout"`
	MaxRetries   *int     `yaml:"maxRetries"`
	RetryBackoff string   `yaml:"retryBackoff"`
	MaxBackoff   string   `yaml:"maxBackoff"`
	Metadata     any      `yaml:"metadata"`
}

// yamlPosition is the "[line:column] " that go-yaml puts before its
// messages.
var yamlPosition = regexp.MustCompile(`^\[(\d+):(\d+)\] `)

// readWorkflowFile reads and checks a workflow file (YAML, or JSON, which
// YAML reads too; "-" for standard input). Every error names the file and
// the line.
func readWorkflowFile(path string) (client.WorkflowSpec, *workflowFile, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(os.Stdin, maxInputFile+1))
	} else {
		data, err = readFileLimited(path)
	}
	if err != nil {
		return client.WorkflowSpec{}, nil, err
	}
	if len(data) > maxInputFile {
		return client.WorkflowSpec{}, nil, fmt.Errorf("%s is over %d bytes", path, maxInputFile)
	}
	return parseWorkflowFile(path, data)
}

// maxInputFile bounds a workflow file: 1,000 steps of inputs up to the
// task input limit would be more than a request may carry anyway.
const maxInputFile = 64 << 20

func readFileLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxInputFile+1))
}

// parseWorkflowFile parses a workflow file and turns it into a submission.
func parseWorkflowFile(path string, data []byte) (client.WorkflowSpec, *workflowFile, error) {
	wf := &workflowFile{path: path, lines: map[string]int{}}
	if err := yaml.UnmarshalWithOptions(data, wf, yaml.DisallowUnknownField()); err != nil {
		msg := yaml.FormatError(err, false, false)
		if m := yamlPosition.FindStringSubmatch(msg); m != nil {
			return client.WorkflowSpec{}, nil, fmt.Errorf("%s:%s:%s: %s\n%s", path, m[1], m[2], msg[len(m[0]):],
				strings.TrimRight(yaml.FormatError(err, false, true)[len(msg):], "\n"))
		}
		return client.WorkflowSpec{}, nil, fmt.Errorf("%s: %s", path, msg)
	}
	// The line of each step, for messages about it.
	stepLine := func(i int) int { return 0 }
	if file, err := parser.ParseBytes(data, 0); err == nil {
		stepLine = func(i int) int {
			p, err := yaml.PathString(fmt.Sprintf("$.steps[%d]", i))
			if err != nil {
				return 0
			}
			n, err := p.FilterFile(file)
			if err != nil || n == nil || n.GetToken() == nil {
				return 0
			}
			return n.GetToken().Position.Line
		}
	}
	at := func(line int) string {
		if line > 0 {
			return fmt.Sprintf("%s:%d", path, line)
		}
		return path
	}
	spec := client.WorkflowSpec{Name: wf.Name, Group: wf.Group}
	if strings.TrimSpace(wf.Name) == "" {
		return spec, nil, fmt.Errorf("%s: name is required", at(1))
	}
	if wf.OnFailure != "" {
		v, err := fileEnum("onFailure", wf.OnFailure, "FAIL_FAST", "CONTINUE")
		if err != nil {
			return spec, nil, fmt.Errorf("%s: %v", path, err)
		}
		spec.OnFailure = v
	}
	var err error
	if spec.Metadata, err = jsonOf(wf.Metadata); err != nil {
		return spec, nil, fmt.Errorf("%s: metadata: %v", path, err)
	}
	if len(wf.Steps) == 0 {
		return spec, nil, fmt.Errorf("%s: steps: a workflow needs at least one step", path)
	}
	for i, s := range wf.Steps {
		line := stepLine(i)
		where := fmt.Sprintf("%s: steps[%d]", at(line), i)
		if s.Key != "" {
			where = fmt.Sprintf("%s: step %s", at(line), s.Key)
			if _, dup := wf.lines[s.Key]; !dup {
				wf.lines[s.Key] = line
			}
		}
		switch {
		case s.Key == "":
			return spec, nil, fmt.Errorf("%s: key is required", where)
		case s.Type == "":
			return spec, nil, fmt.Errorf("%s: type is required", where)
		}
		st := client.WorkflowStepSpec{Key: s.Key, DependsOn: s.DependsOn, Task: client.TaskSpec{Type: s.Type, MaxRetries: s.MaxRetries}}
		if st.Task.Input, err = jsonOf(s.Input); err != nil {
			return spec, nil, fmt.Errorf("%s: input: %v", where, err)
		}
		if st.Task.Metadata, err = jsonOf(s.Metadata); err != nil {
			return spec, nil, fmt.Errorf("%s: metadata: %v", where, err)
		}
		if s.Priority != "" {
			if st.Task.Priority, err = fileEnum("priority", s.Priority, "LOW", "NORMAL", "HIGH", "CRITICAL"); err != nil {
				return spec, nil, fmt.Errorf("%s: %v", where, err)
			}
		}
		if st.Task.Timeout, err = durationOf(s.Timeout); err != nil {
			return spec, nil, fmt.Errorf("%s: timeout: %v", where, err)
		}
		for _, b := range []struct {
			name string
			v    string
			dst  *time.Duration
		}{{"retryBackoff", s.RetryBackoff, &st.Task.RetryBackoff}, {"maxBackoff", s.MaxBackoff, &st.Task.MaxBackoff}} {
			if b.v == "" {
				continue
			}
			d, err := time.ParseDuration(strings.TrimSpace(b.v))
			if err != nil || d <= 0 {
				return spec, nil, fmt.Errorf("%s: %s %q: use a positive duration such as 500ms or 2s", where, b.name, b.v)
			}
			*b.dst = d
		}
		if s.MaxRetries != nil && *s.MaxRetries < 0 {
			return spec, nil, fmt.Errorf("%s: maxRetries must not be negative", where)
		}
		spec.Steps = append(spec.Steps, st)
	}
	return spec, wf, nil
}

// fileEnum is EnumValue for a field of a file.
func fileEnum(field, v string, allowed ...string) (string, error) {
	u, err := EnumValue(field, v, allowed...)
	if err != nil {
		return "", errors.New(strings.TrimPrefix(err.Error(), "--"))
	}
	return u, nil
}

// jsonOf encodes a value read from YAML as JSON (nil for none).
func jsonOf(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cannot be written as JSON (a map key that is not a string?): %v", err)
	}
	return b, nil
}

// durationOf reads a timeout: a Go duration ("90s", "2m") or a number of
// seconds.
func durationOf(v any) (time.Duration, error) {
	var secs float64
	switch x := v.(type) {
	case nil:
		return 0, nil
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(x))
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("%q: use a positive duration such as 90s or 2m, or a number of seconds", x)
		}
		return d, nil
	case int:
		secs = float64(x)
	case int64:
		secs = float64(x)
	case uint64:
		secs = float64(x)
	case float64:
		secs = x
	default:
		return 0, fmt.Errorf("use a duration such as 90s or a number of seconds, not %v", x)
	}
	if secs <= 0 || math.IsNaN(secs) || secs > float64(math.MaxInt64)/float64(time.Second) {
		return 0, fmt.Errorf("%v: use a positive number of seconds", v)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// stepInMessage finds the step an error of the API names.
var stepInMessage = regexp.MustCompile(`\bstep (?:key )?([A-Za-z0-9_-]{1,64})\b`)

// locate adds to an error of the API about a step the file and line of
// that step.
func (wf *workflowFile) locate(err error) error {
	var ce *client.Error
	if wf == nil || !errors.As(err, &ce) || ce.Code != client.CodeBadUserInput {
		return err
	}
	if m := stepInMessage.FindStringSubmatch(ce.Message); m != nil {
		if line, ok := wf.lines[m[1]]; ok && line > 0 {
			return fmt.Errorf("%s:%d: %w", wf.path, line, err)
		}
	}
	return fmt.Errorf("%s: %w", wf.path, err)
}
