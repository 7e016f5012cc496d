package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/redistest"
)

// TestScheduleLimit checks that a store holds at most MaxSchedules
// schedules (CONFLICT beyond), and takes one again after a deletion.
func TestScheduleLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sched := func(name string) *archivist.Schedule {
		return &archivist.Schedule{Name: name, Every: time.Minute, Overlap: archivist.OverlapAllow,
			Misfire: archivist.MisfireRunOnce, Task: &archivist.Task{Type: "t", Priority: archivist.PriorityNormal}}
	}
	check := func(t *testing.T, s archivist.Store) {
		t.Helper()
		err := s.CreateSchedule(ctx, sched("one-too-many"))
		if !archivist.IsCode(err, archivist.CodeConflict) {
			t.Fatalf("schedule %d: %v, want CONFLICT", archivist.MaxSchedules+1, err)
		}
		if _, err := s.GetSchedule(ctx, "one-too-many"); !archivist.IsCode(err, archivist.CodeNotFound) {
			t.Errorf("the refused schedule: %v, want NOT_FOUND", err)
		}
		if err := s.DeleteSchedule(ctx, "s-0"); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSchedule(ctx, sched("one-too-many")); err != nil {
			t.Errorf("a schedule after a deletion: %v", err)
		}
	}

	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		m := NewMemory(Options{})
		defer m.Close()
		for i := range archivist.MaxSchedules {
			if err := m.CreateSchedule(ctx, sched(fmt.Sprintf("s-%d", i))); err != nil {
				t.Fatalf("schedule %d: %v", i, err)
			}
		}
		check(t, m)
	})

	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t)
		r, err := OpenRedis(ctx, RedisOptions{URL: srv.URL(), Cluster: "limit"})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if err := r.CreateSchedule(ctx, sched("s-0")); err != nil {
			t.Fatal(err)
		}
		// The others are copies of the first, written at once.
		def, err := r.client.HGet(ctx, r.keys.schedules(), "s-0").Result()
		if err != nil {
			t.Fatal(err)
		}
		state, err := r.client.HGet(ctx, r.keys.scheduleStates(), "s-0").Result()
		if err != nil {
			t.Fatal(err)
		}
		defs, states := map[string]any{}, map[string]any{}
		for i := 1; i < archivist.MaxSchedules; i++ {
			defs[fmt.Sprintf("s-%d", i)], states[fmt.Sprintf("s-%d", i)] = def, state
		}
		if err := r.client.HSet(ctx, r.keys.schedules(), defs).Err(); err != nil {
			t.Fatal(err)
		}
		if err := r.client.HSet(ctx, r.keys.scheduleStates(), states).Err(); err != nil {
			t.Fatal(err)
		}
		if list, err := r.ListSchedules(ctx); err != nil || len(list) != archivist.MaxSchedules {
			t.Fatalf("ListSchedules: %d, %v", len(list), err)
		}
		check(t, r)
	})
}
