package store

import (
	"context"

	"github.com/rpg-archivist/archivist"
)

// Workflows on Redis: not written yet (issue #16, in progress).

var errRedisWorkflows = archivist.Errorf(archivist.CodeInternal, "workflows are not implemented on the Redis store yet")

// CreateWorkflow implements archivist.Store.
func (s *Redis) CreateWorkflow(ctx context.Context, w *archivist.Workflow, tasks []*archivist.Task) error {
	return errRedisWorkflows
}

// GetWorkflow implements archivist.Store.
func (s *Redis) GetWorkflow(ctx context.Context, id string) (*archivist.Workflow, error) {
	return nil, errRedisWorkflows
}

// ListWorkflows implements archivist.Store.
func (s *Redis) ListWorkflows(ctx context.Context, q archivist.WorkflowQuery) (*archivist.WorkflowPage, error) {
	return nil, errRedisWorkflows
}

// CancelWorkflow implements archivist.Store.
func (s *Redis) CancelWorkflow(ctx context.Context, id string) (*archivist.Workflow, error) {
	return nil, errRedisWorkflows
}

// RetryWorkflow implements archivist.Store.
func (s *Redis) RetryWorkflow(ctx context.Context, id string) (*archivist.Workflow, error) {
	return nil, errRedisWorkflows
}

// AddWorkflowSteps implements archivist.Store.
func (s *Redis) AddWorkflowSteps(ctx context.Context, id string, attempt int, steps []archivist.WorkflowStep, tasks []*archivist.Task) (*archivist.Workflow, error) {
	return nil, errRedisWorkflows
}
