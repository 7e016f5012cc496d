package store

import (
	"context"
	"time"

	archivist "github.com/rpg-archivist/archivist"
)

// Schedules of the Redis store. Not written yet.

func (r *Redis) CreateSchedule(ctx context.Context, s *archivist.Schedule) error {
	return errNoSchedules()
}

func (r *Redis) UpdateSchedule(ctx context.Context, s *archivist.Schedule) (*archivist.Schedule, error) {
	return nil, errNoSchedules()
}

func (r *Redis) GetSchedule(ctx context.Context, name string) (*archivist.Schedule, error) {
	return nil, errNoSchedules()
}

func (r *Redis) ListSchedules(ctx context.Context) ([]*archivist.Schedule, error) {
	return nil, errNoSchedules()
}

func (r *Redis) PauseSchedule(ctx context.Context, name string, paused bool, next time.Time) (*archivist.Schedule, error) {
	return nil, errNoSchedules()
}

func (r *Redis) DeleteSchedule(ctx context.Context, name string) error { return errNoSchedules() }

func (r *Redis) FireSchedule(ctx context.Context, f archivist.ScheduleFire) (*archivist.ScheduleFired, error) {
	return nil, errNoSchedules()
}
