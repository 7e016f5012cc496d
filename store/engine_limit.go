package store

import (
	"context"

	"github.com/rpg-archivist/archivist"
)

// TODO(#17): limits and paused task types; the limits helper replaces
// these.

func (e *engine) SetLimit(ctx context.Context, l *archivist.Limit) (*archivist.Limit, error) {
	return nil, archivist.Errorf(archivist.CodeInternal, "limits are not implemented yet")
}

func (e *engine) ListLimits(ctx context.Context) ([]*archivist.Limit, error) { return nil, nil }

func (e *engine) DeleteLimit(ctx context.Context, id string) error {
	return archivist.Errorf(archivist.CodeNotFound, "no limit %q", id)
}

func (e *engine) PauseTaskType(ctx context.Context, taskType string, paused bool) (bool, error) {
	return false, archivist.Errorf(archivist.CodeInternal, "pausing task types is not implemented yet")
}

func (e *engine) PausedTaskTypes(ctx context.Context) ([]string, error) { return nil, nil }
