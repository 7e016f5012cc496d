package store

import (
	"context"

	"github.com/rpg-archivist/archivist"
)

// TODO(#17): limits and paused task types; the limits helper replaces
// these.

func (r *Redis) SetLimit(ctx context.Context, l *archivist.Limit) (*archivist.Limit, error) {
	return nil, archivist.Errorf(archivist.CodeInternal, "limits are not implemented yet")
}

func (r *Redis) ListLimits(ctx context.Context) ([]*archivist.Limit, error) { return nil, nil }

func (r *Redis) DeleteLimit(ctx context.Context, id string) error {
	return archivist.Errorf(archivist.CodeNotFound, "no limit %q", id)
}

func (r *Redis) PauseTaskType(ctx context.Context, taskType string, paused bool) (bool, error) {
	return false, archivist.Errorf(archivist.CodeInternal, "pausing task types is not implemented yet")
}

func (r *Redis) PausedTaskTypes(ctx context.Context) ([]string, error) { return nil, nil }
