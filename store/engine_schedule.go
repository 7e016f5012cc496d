package store

import (
	"context"
	"time"

	archivist "github.com/rpg-archivist/archivist"
)

// Schedules of the embedded and memory stores. Not written yet.

func errNoSchedules() error {
	return archivist.Errorf(archivist.CodeInternal, "schedules are not implemented by this store yet")
}

func (e *engine) CreateSchedule(ctx context.Context, s *archivist.Schedule) error {
	return errNoSchedules()
}

func (e *engine) UpdateSchedule(ctx context.Context, s *archivist.Schedule) (*archivist.Schedule, error) {
	return nil, errNoSchedules()
}

func (e *engine) GetSchedule(ctx context.Context, name string) (*archivist.Schedule, error) {
	return nil, errNoSchedules()
}

func (e *engine) ListSchedules(ctx context.Context) ([]*archivist.Schedule, error) {
	return nil, errNoSchedules()
}

func (e *engine) PauseSchedule(ctx context.Context, name string, paused bool, next time.Time) (*archivist.Schedule, error) {
	return nil, errNoSchedules()
}

func (e *engine) DeleteSchedule(ctx context.Context, name string) error { return errNoSchedules() }

func (e *engine) FireSchedule(ctx context.Context, f archivist.ScheduleFire) (*archivist.ScheduleFired, error) {
	return nil, errNoSchedules()
}
