package archivist

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// A Workflow is a graph of tasks: each step is an ordinary task that waits
// (status WAITING) until the steps it depends on completed, and becomes
// PENDING in the same atomic store step that completes the last of them.
// The store keeps, besides the tasks, this record of the graph: what each
// step depends on and how far each has come, as much as releasing and
// cancelling steps needs. The live state of a step is its task's.
type Workflow struct {
	ID        string                `json:"id"`
	Name      string                `json:"name"`
	Metadata  json.RawMessage       `json:"metadata,omitempty"`
	OnFailure WorkflowFailurePolicy `json:"onFailure"`
	// Group is the group of the workflow's steps (Task.Group): each
	// step's task that has none takes it, the steps added later too.
	Group  string         `json:"group,omitempty"`
	Status WorkflowStatus `json:"status"`
	// Steps in the order they were submitted (added steps last).
	Steps []WorkflowStep `json:"steps"`
	// Error says why a workflow FAILED (the first step that failed) or
	// that it was CANCELLED.
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// CompletedAt is when the last step of a workflow that left RUNNING
	// ended (zero while any step is unfinished).
	CompletedAt time.Time `json:"completedAt,omitzero"`
	// Seq orders workflows by submission; the store sets it.
	Seq uint64 `json:"seq"`
}

// WorkflowStep is one step of a workflow as the workflow's record keeps it.
type WorkflowStep struct {
	// Key names the step in its workflow.
	Key string `json:"key"`
	// DependsOn are the keys of the steps it waits for. A step that adds
	// steps (Job.AddSteps) makes the steps that depend on it depend on the
	// added ones too.
	DependsOn []string `json:"dependsOn,omitempty"`
	// TaskID is the step's task.
	TaskID string `json:"taskId"`
	// Status is WAITING until the step is released, PENDING from then
	// until its task ended (whatever the task went through meanwhile:
	// the task has that), then the task's final status.
	Status TaskStatus `json:"status"`
	// AddedBy is the key of the step that added this one while it ran
	// (Job.AddSteps), or "" for a submitted step.
	AddedBy string `json:"addedBy,omitempty"`
}

// WorkflowStatus is where a workflow is.
type WorkflowStatus string

// Workflow statuses.
const (
	// WorkflowRunning: some step may still run.
	WorkflowRunning WorkflowStatus = "RUNNING"
	// WorkflowCompleted: every step completed.
	WorkflowCompleted WorkflowStatus = "COMPLETED"
	// WorkflowFailed: a step failed (after its retries), timed out or was
	// cancelled on its own. With FAIL_FAST the workflow is FAILED at once
	// (steps already running finish); with CONTINUE when no step is left
	// to run.
	WorkflowFailed WorkflowStatus = "FAILED"
	// WorkflowCancelled: cancelWorkflow.
	WorkflowCancelled WorkflowStatus = "CANCELLED"
)

// AllWorkflowStatuses lists every workflow status.
var AllWorkflowStatuses = []WorkflowStatus{WorkflowRunning, WorkflowCompleted, WorkflowFailed, WorkflowCancelled}

// Valid reports whether s is a known status.
func (s WorkflowStatus) Valid() bool { return slices.Contains(AllWorkflowStatuses, s) }

// WorkflowFailurePolicy says what a failed step does to the rest of its
// workflow.
type WorkflowFailurePolicy string

// Failure policies.
const (
	// FailFast (the default) fails the workflow at once and cancels every
	// step that has not started; steps already running finish.
	FailFast WorkflowFailurePolicy = "FAIL_FAST"
	// ContinueOnFailure runs every step whose dependencies completed; the
	// steps that depend on the failed one (directly or not) are cancelled.
	// The workflow is FAILED once nothing is left to run.
	ContinueOnFailure WorkflowFailurePolicy = "CONTINUE"
)

// Valid reports whether p is a known policy ("" is the default).
func (p WorkflowFailurePolicy) Valid() bool {
	return p == "" || p == FailFast || p == ContinueOnFailure
}

// TaskWaiting is the status of a workflow step waiting for the steps it
// depends on.
const TaskWaiting TaskStatus = "WAITING"

// EventWorkflow is the kind of workflow events, which carry Event.Workflow.
const EventWorkflow EventKind = "WORKFLOW"

// Workflow and step event types.
const (
	// EventWorkflowCreated: CreateWorkflow.
	EventWorkflowCreated EventType = "workflow.created"
	// EventWorkflowUpdated: any change of the workflow's record (a step
	// released or ended, steps added, its status).
	EventWorkflowUpdated EventType = "workflow.updated"
	// EventTaskReleased: a WAITING step became PENDING.
	EventTaskReleased EventType = "task.released"
)

// Limits of workflows.
const (
	// MaxWorkflowSteps is the most steps a workflow may have, added steps
	// included.
	MaxWorkflowSteps = 1000
	// MaxWorkflowNameBytes is the longest workflow name.
	MaxWorkflowNameBytes = 200
)

// stepKeyPattern is what a step key may be: a dot ends the key in a $ref.
var stepKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidStepKey reports why key cannot name a step, or nil.
func ValidStepKey(key string) error {
	if !stepKeyPattern.MatchString(key) {
		return Errorf(CodeBadUserInput, "step key %q: use 1 to 64 letters, digits, '-' or '_'", Clip(key))
	}
	return nil
}

// Clone returns a deep copy of w.
func (w *Workflow) Clone() *Workflow {
	if w == nil {
		return nil
	}
	c := *w
	c.Metadata = cloneRaw(w.Metadata)
	c.Steps = make([]WorkflowStep, len(w.Steps))
	for i, s := range w.Steps {
		s.DependsOn = slices.Clone(s.DependsOn)
		c.Steps[i] = s
	}
	return &c
}

// Update returns what changed from old (the same workflow before) to w,
// as a workflow.updated event carries it: w's state and the steps that are
// new or differ from old's, in w's order; no Name or Metadata.
func (w *Workflow) Update(old *Workflow) *Workflow {
	u := &Workflow{ID: w.ID, OnFailure: w.OnFailure, Status: w.Status, Error: w.Error, CreatedAt: w.CreatedAt,
		UpdatedAt: w.UpdatedAt, CompletedAt: w.CompletedAt, Seq: w.Seq}
	var before map[string]*WorkflowStep
	if old != nil {
		before = make(map[string]*WorkflowStep, len(old.Steps))
		for i := range old.Steps {
			before[old.Steps[i].Key] = &old.Steps[i]
		}
	}
	for _, s := range w.Steps {
		if o := before[s.Key]; o != nil && o.Status == s.Status && o.TaskID == s.TaskID && o.AddedBy == s.AddedBy &&
			slices.Equal(o.DependsOn, s.DependsOn) {
			continue
		}
		s.DependsOn = slices.Clone(s.DependsOn)
		u.Steps = append(u.Steps, s)
	}
	return u
}

// Merge applies update u (a workflow.updated event's Workflow) to w, a
// whole copy of the same workflow: its state, and each step of u in place
// of w's of the same key, or added at the end.
func (w *Workflow) Merge(u *Workflow) {
	w.OnFailure, w.Status, w.Error = u.OnFailure, u.Status, u.Error
	w.UpdatedAt, w.CompletedAt = u.UpdatedAt, u.CompletedAt
	for _, s := range u.Steps {
		s.DependsOn = slices.Clone(s.DependsOn)
		if cur := w.Step(s.Key); cur != nil {
			*cur = s
			continue
		}
		w.Steps = append(w.Steps, s)
	}
}

// Step returns the step with key, or nil.
func (w *Workflow) Step(key string) *WorkflowStep {
	for i := range w.Steps {
		if w.Steps[i].Key == key {
			return &w.Steps[i]
		}
	}
	return nil
}

// Progress is the share of steps that ended, from 0 to 1.
func (w *Workflow) Progress() float64 {
	if len(w.Steps) == 0 {
		return 0
	}
	done := 0
	for _, s := range w.Steps {
		if s.Status.Terminal() {
			done++
		}
	}
	return float64(done) / float64(len(w.Steps))
}

// Finished reports whether every step ended.
func (w *Workflow) Finished() bool {
	for _, s := range w.Steps {
		if !s.Status.Terminal() {
			return false
		}
	}
	return true
}

// completed returns the keys of the steps that completed, so that
// checking whether a step is ready does not look each dependency up among
// all the steps (a fan-in of a thousand steps is a thousand lookups at
// each step that ends).
func (w *Workflow) completed() map[string]bool {
	done := make(map[string]bool, len(w.Steps))
	for _, s := range w.Steps {
		if s.Status == TaskCompleted {
			done[s.Key] = true
		}
	}
	return done
}

// ready reports whether every dependency of s completed (done: see
// completed).
func ready(s *WorkflowStep, done map[string]bool) bool {
	for _, d := range s.DependsOn {
		if !done[d] {
			return false
		}
	}
	return true
}

// StepEnded records that the task of step key ended in status (a final
// one; errMsg is its error) at now, and returns what the store must do in
// the same atomic step: release the WAITING steps in release (to PENDING)
// and cancel the tasks of the steps in cancel, each for the reason given
// (cancelling them ends them too: call StepEnded for each then). It
// changes w's Status, Error, CompletedAt and UpdatedAt as the rules say:
//
//   - COMPLETED releases the WAITING steps whose dependencies all
//     completed, while the workflow is RUNNING;
//   - anything else, while RUNNING: with FAIL_FAST the workflow is FAILED
//     and every step not started (WAITING, or released and not yet
//     running: the store cancels it unless its task is IN_PROGRESS) is
//     cancelled; with CONTINUE the WAITING steps that depend on it are
//     cancelled;
//   - once every step ended, a RUNNING workflow is COMPLETED (all
//     completed) or FAILED, and CompletedAt is set.
//
// A step that is unknown or already ended changes nothing.
func (w *Workflow) StepEnded(key string, status TaskStatus, errMsg string, now time.Time) (release []string, cancel []string, reason string) {
	s := w.Step(key)
	if s == nil || s.Status.Terminal() || !status.Terminal() {
		return nil, nil, ""
	}
	s.Status = status
	w.UpdatedAt = now
	switch {
	case w.Status != WorkflowRunning:
	case status == TaskCompleted:
		done := w.completed()
		for i := range w.Steps {
			c := &w.Steps[i]
			if c.Status == TaskWaiting && slices.Contains(c.DependsOn, key) && ready(c, done) {
				c.Status = TaskPending
				release = append(release, c.Key)
			}
		}
	case w.OnFailure == ContinueOnFailure:
		reason = fmt.Sprintf("step %s ended %s", key, status)
		for _, c := range w.Steps {
			if c.Status == TaskWaiting && slices.Contains(c.DependsOn, key) {
				cancel = append(cancel, c.Key)
			}
		}
	default:
		w.Status = WorkflowFailed
		w.Error = stepError(key, status, errMsg)
		reason = fmt.Sprintf("workflow failed: step %s ended %s", key, status)
		for _, c := range w.Steps {
			if c.Status == TaskWaiting || c.Status == TaskPending {
				cancel = append(cancel, c.Key)
			}
		}
	}
	w.settle(key, status, errMsg, now)
	return release, cancel, reason
}

// settle ends a workflow whose steps all ended.
func (w *Workflow) settle(key string, status TaskStatus, errMsg string, now time.Time) {
	if !w.Finished() {
		return
	}
	if w.Status == WorkflowRunning {
		w.Status = WorkflowCompleted
		for _, s := range w.Steps {
			if s.Status != TaskCompleted {
				w.Status = WorkflowFailed
				if w.Error == "" {
					w.Error = stepError(s.Key, s.Status, "")
				}
				break
			}
		}
	}
	if w.Error == "" && w.Status == WorkflowFailed {
		w.Error = stepError(key, status, errMsg)
	}
	w.CompletedAt = now
}

func stepError(key string, status TaskStatus, errMsg string) string {
	if errMsg == "" {
		return fmt.Sprintf("step %s ended %s", key, status)
	}
	return fmt.Sprintf("step %s ended %s: %s", key, status, errMsg)
}

// Cancel ends a RUNNING workflow as CANCELLED and returns the steps whose
// tasks the store must cancel (every unfinished one). A workflow not
// RUNNING gives CONFLICT.
func (w *Workflow) Cancel(now time.Time) ([]string, error) {
	if w.Status != WorkflowRunning {
		return nil, Errorf(CodeConflict, "workflow %s is %s: only a RUNNING workflow can be cancelled", w.ID, w.Status)
	}
	w.Status, w.Error, w.UpdatedAt = WorkflowCancelled, "cancelled", now
	var cancel []string
	for _, s := range w.Steps {
		if !s.Status.Terminal() {
			cancel = append(cancel, s.Key)
		}
	}
	if len(cancel) == 0 {
		w.CompletedAt = now
	}
	return cancel, nil
}

// Retry makes a FAILED or CANCELLED workflow whose steps all ended RUNNING
// again, and returns the steps to run again (every one that did not
// complete), each now WAITING or, when its dependencies all completed,
// PENDING: the store resets their tasks to that status (failures, error
// and result cleared). Other workflows give CONFLICT.
func (w *Workflow) Retry(now time.Time) ([]string, error) {
	switch {
	case w.Status != WorkflowFailed && w.Status != WorkflowCancelled:
		return nil, Errorf(CodeConflict, "workflow %s is %s: only a FAILED or CANCELLED workflow can be retried", w.ID, w.Status)
	case !w.Finished():
		return nil, Errorf(CodeConflict, "workflow %s still has steps running: retry it when they have ended", w.ID)
	}
	var again []string
	for i := range w.Steps {
		if w.Steps[i].Status != TaskCompleted {
			w.Steps[i].Status = TaskWaiting
			again = append(again, w.Steps[i].Key)
		}
	}
	done := w.completed()
	for i := range w.Steps {
		if s := &w.Steps[i]; s.Status == TaskWaiting && ready(s, done) {
			s.Status = TaskPending
		}
	}
	w.Status, w.Error, w.CompletedAt, w.UpdatedAt = WorkflowRunning, "", time.Time{}, now
	return again, nil
}

// AddSteps adds steps to a RUNNING workflow on behalf of step by, whose
// task is running (Job.AddSteps): each new step is PENDING when its
// dependencies all completed, else WAITING, and every step that depends on
// by now depends on the new ones too. A new step may depend on by, on
// steps added with it, and on steps that completed. Steps whose key exists
// already are left as they are (a retried attempt adds the same steps
// again). It returns the steps added, in order. The caller validated the
// steps' tasks (NewWorkflowSteps).
func (w *Workflow) AddSteps(by string, steps []WorkflowStep, now time.Time) ([]WorkflowStep, error) {
	if w.Status != WorkflowRunning {
		return nil, Errorf(CodeConflict, "workflow %s is %s: steps can be added only while it runs", w.ID, w.Status)
	}
	if w.Step(by) == nil {
		return nil, Errorf(CodeNotFound, "workflow %s has no step %q", w.ID, Clip(by))
	}
	var added []WorkflowStep
	batch := map[string]bool{}
	for _, s := range steps {
		if w.Step(s.Key) == nil {
			batch[s.Key] = true
		}
	}
	for _, s := range steps {
		if !batch[s.Key] {
			continue
		}
		for _, d := range s.DependsOn {
			p := w.Step(d)
			if d != by && !batch[d] && (p == nil || p.Status != TaskCompleted) {
				return nil, Errorf(CodeBadUserInput,
					"added step %s depends on %s: an added step may depend only on the step adding it (%s), on steps added with it and on completed steps", s.Key, Clip(d), by)
			}
		}
		added = append(added, s)
	}
	if len(w.Steps)+len(added) > MaxWorkflowSteps {
		return nil, Errorf(CodeBadUserInput, "workflow %s would have %d steps; the limit is %d", w.ID, len(w.Steps)+len(added), MaxWorkflowSteps)
	}
	for i := range w.Steps {
		c := &w.Steps[i]
		if slices.Contains(c.DependsOn, by) {
			for _, s := range added {
				c.DependsOn = append(c.DependsOn, s.Key)
			}
		}
	}
	for i := range added {
		added[i].Status, added[i].AddedBy = TaskWaiting, by
	}
	w.Steps = append(w.Steps, added...)
	done := w.completed()
	for i := range added {
		if s := w.Step(added[i].Key); ready(s, done) {
			s.Status, added[i].Status = TaskPending, TaskPending
		}
	}
	w.UpdatedAt = now
	return added, nil
}

// WorkflowSpec is a workflow submission.
type WorkflowSpec struct {
	Name      string
	Metadata  json.RawMessage
	OnFailure WorkflowFailurePolicy
	// Group: see Workflow.Group.
	Group string
	Steps []WorkflowStepSpec
}

// WorkflowStepSpec is one step of a submission: a key, the keys it depends
// on and its task. The task may not be delayed or unique (a step runs when
// its dependencies completed, once per workflow).
type WorkflowStepSpec struct {
	Key       string
	DependsOn []string
	Task      TaskSpec
}

// NewWorkflow validates spec (names, keys, dependencies known and without
// a cycle, each step's task as NewTask checks it, $refs naming a step the
// step depends on) and returns the workflow to store and its steps' tasks
// (tasks[i] is step i's, with an id, WorkflowID and StepKey), each step
// WAITING or, with no dependencies, PENDING. Errors are BAD_USER_INPUT.
func NewWorkflow(spec WorkflowSpec, reg *Registry, cfg Config, now time.Time) (*Workflow, []*Task, error) {
	name := strings.TrimSpace(spec.Name)
	switch {
	case name == "":
		return nil, nil, Errorf(CodeBadUserInput, "workflow name is required")
	case len(name) > MaxWorkflowNameBytes:
		return nil, nil, Errorf(CodeBadUserInput, "workflow name is %d bytes; the limit is %d", len(name), MaxWorkflowNameBytes)
	case len(spec.Metadata) > MaxInputBytes:
		return nil, nil, Errorf(CodeBadUserInput, "metadata is %d bytes; the limit is %d", len(spec.Metadata), MaxInputBytes)
	case len(spec.Metadata) > 0 && !json.Valid(spec.Metadata):
		return nil, nil, Errorf(CodeBadUserInput, "metadata is not valid JSON")
	case !spec.OnFailure.Valid():
		return nil, nil, Errorf(CodeBadUserInput, "unknown onFailure %q; use FAIL_FAST or CONTINUE", Clip(string(spec.OnFailure)))
	case len(spec.Steps) == 0:
		return nil, nil, Errorf(CodeBadUserInput, "a workflow needs at least one step")
	case len(spec.Steps) > MaxWorkflowSteps:
		return nil, nil, Errorf(CodeBadUserInput, "a workflow has at most %d steps; this one has %d", MaxWorkflowSteps, len(spec.Steps))
	}
	if err := CheckGroup(spec.Group); err != nil {
		return nil, nil, err
	}
	policy := spec.OnFailure
	if policy == "" {
		policy = FailFast
	}
	w := &Workflow{ID: NewID(now), Name: name, Metadata: spec.Metadata, OnFailure: policy, Group: spec.Group,
		Status: WorkflowRunning, CreatedAt: now, UpdatedAt: now}
	steps, tasks, err := buildSteps(spec.Steps, nil, w.Group, reg, cfg, now)
	if err != nil {
		return nil, nil, err
	}
	if err := checkAcyclic(steps); err != nil {
		return nil, nil, err
	}
	for i := range steps {
		tasks[i].WorkflowID = w.ID
		if len(steps[i].DependsOn) == 0 {
			steps[i].Status = TaskPending
		}
	}
	w.Steps = steps
	return w, tasks, nil
}

// NewWorkflowSteps validates steps that the running step by of w adds
// (Job.AddSteps), as NewWorkflow validates a submission, and returns them
// and their tasks. Whether they fit the graph is Workflow.AddSteps's to
// say, in the store.
func NewWorkflowSteps(w *Workflow, by string, specs []WorkflowStepSpec, reg *Registry, cfg Config, now time.Time) ([]WorkflowStep, []*Task, error) {
	if len(specs) == 0 {
		return nil, nil, Errorf(CodeBadUserInput, "no steps to add")
	}
	if len(w.Steps)+len(specs) > MaxWorkflowSteps {
		return nil, nil, Errorf(CodeBadUserInput, "workflow %s would have %d steps; the limit is %d", w.ID, len(w.Steps)+len(specs), MaxWorkflowSteps)
	}
	known := map[string]bool{}
	for _, s := range w.Steps {
		known[s.Key] = true
	}
	steps, tasks, err := buildSteps(specs, known, w.Group, reg, cfg, now)
	if err != nil {
		return nil, nil, err
	}
	if err := checkAcyclic(steps); err != nil {
		return nil, nil, err
	}
	for _, t := range tasks {
		t.WorkflowID = w.ID
	}
	return steps, tasks, nil
}

// buildSteps checks specs (keys unique among them; dependencies among them
// or in known) and builds their steps and tasks, in group unless a step's
// task names its own.
func buildSteps(specs []WorkflowStepSpec, known map[string]bool, group string, reg *Registry, cfg Config, now time.Time) ([]WorkflowStep, []*Task, error) {
	keys := make(map[string]bool, len(specs))
	for _, s := range specs {
		if err := ValidStepKey(s.Key); err != nil {
			return nil, nil, err
		}
		if keys[s.Key] {
			return nil, nil, Errorf(CodeBadUserInput, "step key %s is used twice", s.Key)
		}
		keys[s.Key] = true
	}
	steps := make([]WorkflowStep, len(specs))
	tasks := make([]*Task, len(specs))
	for i, s := range specs {
		seen := map[string]bool{}
		for _, d := range s.DependsOn {
			switch {
			case d == s.Key:
				return nil, nil, Errorf(CodeBadUserInput, "step %s depends on itself", s.Key)
			case !keys[d] && !known[d]:
				return nil, nil, Errorf(CodeBadUserInput, "step %s depends on %q, which is not a step of the workflow", s.Key, Clip(d))
			case seen[d]:
				return nil, nil, Errorf(CodeBadUserInput, "step %s depends on %s twice", s.Key, d)
			}
			seen[d] = true
		}
		if !s.Task.RunAt.IsZero() || s.Task.Delay != 0 || s.Task.UniqueKey != "" {
			return nil, nil, Errorf(CodeBadUserInput, "step %s: a step runs when its dependencies completed; it cannot be delayed or unique", s.Key)
		}
		if s.Task.Group == "" {
			s.Task.Group = group
		}
		// An input with $refs is checked by its handler once they are
		// resolved (the worker pool does before each attempt).
		t, err := newTask(s.Task, reg, cfg, !HasRefs(s.Task.Input))
		if err != nil {
			return nil, nil, Errorf(CodeBadUserInput, "step %s: %s", s.Key, ErrorMessageOf(err))
		}
		refs, err := FindRefs(t.Input)
		if err != nil {
			return nil, nil, Errorf(CodeBadUserInput, "step %s: %s", s.Key, ErrorMessageOf(err))
		}
		for _, r := range refs {
			if !seen[r.Step] {
				return nil, nil, Errorf(CodeBadUserInput, "step %s: $ref %q names step %s, which it does not depend on", s.Key, Clip(r.Raw), Clip(r.Step))
			}
		}
		t.ID = NewID(now)
		t.StepKey = s.Key
		steps[i] = WorkflowStep{Key: s.Key, DependsOn: slices.Clone(s.DependsOn), TaskID: t.ID, Status: TaskWaiting}
		tasks[i] = t
	}
	return steps, tasks, nil
}

// checkAcyclic refuses steps whose dependencies among them form a cycle,
// naming one.
func checkAcyclic(steps []WorkflowStep) error {
	idx := make(map[string]int, len(steps))
	for i, s := range steps {
		idx[s.Key] = i
	}
	// 0 unvisited, 1 on the path, 2 done.
	state := make([]int, len(steps))
	var path []string
	var visit func(i int) error
	visit = func(i int) error {
		state[i] = 1
		path = append(path, steps[i].Key)
		for _, d := range steps[i].DependsOn {
			j, ok := idx[d]
			if !ok {
				continue
			}
			switch state[j] {
			case 1:
				start := slices.Index(path, d)
				cycle := append(slices.Clone(path[start:]), d)
				return Errorf(CodeBadUserInput, "the steps' dependencies form a cycle: %s", strings.Join(cycle, " -> "))
			case 0:
				if err := visit(j); err != nil {
					return err
				}
			}
		}
		path = path[:len(path)-1]
		state[i] = 2
		return nil
	}
	for i := range steps {
		if state[i] == 0 {
			if err := visit(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// WorkflowFilter selects workflows: a workflow passes when it matches every
// field set.
type WorkflowFilter struct {
	Status []WorkflowStatus
	// Search matches a substring of the id or name, ignoring case.
	Search string
}

// Matches reports whether w passes the filter.
func (f WorkflowFilter) Matches(w *Workflow) bool {
	if len(f.Status) > 0 && !slices.Contains(f.Status, w.Status) {
		return false
	}
	if f.Search == "" {
		return true
	}
	s := strings.ToLower(f.Search)
	return strings.Contains(strings.ToLower(w.ID), s) || strings.Contains(strings.ToLower(w.Name), s)
}

// WorkflowQuery filters and pages ListWorkflows (newest first; After is the
// decimal Seq of the last workflow of the previous page).
type WorkflowQuery struct {
	WorkflowFilter
	First int
	After string
}

// WorkflowPage is a page of workflows.
type WorkflowPage struct {
	Workflows  []*Workflow
	TotalCount int
	HasNext    bool
	EndCursor  string
}
