package store

import (
	"context"

	"github.com/rpg-archivist/archivist"
)

var errEngineWorkflows = archivist.Errorf(archivist.CodeInternal, "workflows: not written yet")

// CreateWorkflow implements archivist.Store.
func (e *engine) CreateWorkflow(ctx context.Context, w *archivist.Workflow, tasks []*archivist.Task) error {
	return errEngineWorkflows
}

// GetWorkflow implements archivist.Store.
func (e *engine) GetWorkflow(ctx context.Context, id string) (*archivist.Workflow, error) {
	return nil, errEngineWorkflows
}

// ListWorkflows implements archivist.Store.
func (e *engine) ListWorkflows(ctx context.Context, q archivist.WorkflowQuery) (*archivist.WorkflowPage, error) {
	return nil, errEngineWorkflows
}

// CancelWorkflow implements archivist.Store.
func (e *engine) CancelWorkflow(ctx context.Context, id string) (*archivist.Workflow, error) {
	return nil, errEngineWorkflows
}

// RetryWorkflow implements archivist.Store.
func (e *engine) RetryWorkflow(ctx context.Context, id string) (*archivist.Workflow, error) {
	return nil, errEngineWorkflows
}

// AddWorkflowSteps implements archivist.Store.
func (e *engine) AddWorkflowSteps(ctx context.Context, id string, attempt int, steps []archivist.WorkflowStep, tasks []*archivist.Task) (*archivist.Workflow, error) {
	return nil, errEngineWorkflows
}
