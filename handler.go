package archivist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Handler runs tasks of one type. It must honour ctx: when ctx ends (timeout
// or cancellation) it should return promptly with ctx.Err(). With tracing on
// (package tracing), ctx holds the attempt's span: spans the handler starts
// from ctx are its children, in the trace of the task's submission.
type Handler interface {
	Handle(ctx context.Context, job *Job) (json.RawMessage, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, job *Job) (json.RawMessage, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, job *Job) (json.RawMessage, error) {
	return f(ctx, job)
}

// InputValidator is implemented by handlers that can check an input at submit
// time, so that a bad input is refused before it is queued.
type InputValidator interface {
	ValidateInput(input json.RawMessage) error
}

// Job is one attempt of a task as a handler sees it.
type Job struct {
	// Task is a copy of the task at the start of the attempt. For a
	// workflow step, its Input has its $refs resolved.
	Task *Task
	// parents reads the parent results (SetParentResults); parentsMu
	// guards it and what it read.
	parentsMu  sync.Mutex
	parents    func(ctx context.Context) (map[string]json.RawMessage, error)
	parentsGot map[string]json.RawMessage
	// progress is set by the worker pool.
	progress func(fraction float64, message string)
	// addSteps is set by the worker pool for a workflow step.
	addSteps func(ctx context.Context, steps []WorkflowStepSpec) error
}

// ParentResults returns, for a workflow step, the results of the steps it
// depends on, by step key (steps added by a parent included). They are
// read from the store on the first call only, so a step that does not
// need them costs nothing; a task that is no step has none.
func (j *Job) ParentResults(ctx context.Context) (map[string]json.RawMessage, error) {
	j.parentsMu.Lock()
	defer j.parentsMu.Unlock()
	if j.parentsGot != nil || j.parents == nil {
		return j.parentsGot, nil
	}
	got, err := j.parents(ctx)
	if err != nil {
		return nil, err
	}
	j.parentsGot = got
	return got, nil
}

// SetParentResults sets how ParentResults reads the parents' results: the
// worker pool reads them from the store; a test may give fixed ones.
func (j *Job) SetParentResults(fn func(ctx context.Context) (map[string]json.RawMessage, error)) {
	j.parentsMu.Lock()
	defer j.parentsMu.Unlock()
	j.parents, j.parentsGot = fn, nil
}

// SetAddSteps lets the worker pool give the job a way to add workflow
// steps (AddSteps).
func (j *Job) SetAddSteps(fn func(ctx context.Context, steps []WorkflowStepSpec) error) {
	j.addSteps = fn
}

// AddSteps adds steps to the workflow of a step being run (dynamic
// fan-out): the steps that depend on this one wait for the added ones too.
// An added step may depend on this step (then it starts once this one
// completed, and can read its result), on steps added with it, and on
// steps that completed. Adding a key the workflow has already is a no-op,
// so a retried attempt may add the same steps again. A task that is not a
// workflow step gives BAD_USER_INPUT.
func (j *Job) AddSteps(ctx context.Context, steps ...WorkflowStepSpec) error {
	if j.addSteps == nil || j.Task == nil || j.Task.WorkflowID == "" {
		return Errorf(CodeBadUserInput, "only a workflow step can add steps")
	}
	return j.addSteps(ctx, steps)
}

// NewJob returns a job for t that reports progress to fn (which may be nil).
func NewJob(t *Task, fn func(fraction float64, message string)) *Job {
	return &Job{Task: t, progress: fn}
}

// Input decodes the task's JSON input into v.
func (j *Job) Input(v any) error {
	if err := json.Unmarshal(j.Task.Input, v); err != nil {
		return Permanent(fmt.Errorf("decode input: %w", err))
	}
	return nil
}

// ReportProgress records progress between 0 and 1 with a short message. It
// never blocks on the store; reports may be coalesced.
func (j *Job) ReportProgress(fraction float64, message string) {
	if j.progress == nil {
		return
	}
	switch {
	case fraction < 0 || fraction != fraction:
		fraction = 0
	case fraction > 1:
		fraction = 1
	}
	j.progress(fraction, message)
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: the task fails at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Registry maps task types to handlers. It is safe for concurrent use.
type Registry struct {
	mu       sync.RWMutex
	handlers map[string]Handler
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{handlers: map[string]Handler{}} }

// Register adds h for typ, replacing any earlier handler of that type.
func (r *Registry) Register(typ string, h Handler) {
	if typ == "" || h == nil {
		panic("archivist: Register needs a type and a handler")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers[typ] = h
}

// RegisterFunc adds fn for typ.
func (r *Registry) RegisterFunc(typ string, fn func(ctx context.Context, job *Job) (json.RawMessage, error)) {
	r.Register(typ, HandlerFunc(fn))
}

// Lookup returns the handler of typ.
func (r *Registry) Lookup(typ string) (Handler, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	h, ok := r.handlers[typ]
	return h, ok
}

// Types returns the registered types, sorted.
func (r *Registry) Types() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.handlers))
	for t := range r.handlers {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
