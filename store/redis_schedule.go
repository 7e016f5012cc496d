package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"

	archivist "github.com/rpg-archivist/archivist"
)

// Schedules of the Redis store: two HASHes, the definitions (name -> JSON)
// and their state (name -> MessagePack [paused, next run, last run, last
// task id, created, updated, overlap policy]), changed by lua/schedule.lua and
// lua/fire_schedule.lua (see rediskeys.go). Names are checked here, before
// a script runs.

// scheduleDef is the stored definition of s: its JSON without its state.
func scheduleDef(s *archivist.Schedule) (string, error) {
	c := *s
	c.Paused, c.NextRunAt, c.LastRunAt, c.LastTaskID = false, time.Time{}, time.Time{}, ""
	c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
	b, err := marshalSchedule(&c)
	return string(b), err
}

// microsOf is t in unix µs, 0 for the zero time.
func microsOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func timeOfMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us)
}

// decodeSchedule builds schedule name from its stored definition and state.
func decodeSchedule(name string, def, state []byte) (*archivist.Schedule, error) {
	s, err := unmarshalSchedule(def)
	if err != nil {
		return nil, fmt.Errorf("schedule %s: %w", name, err)
	}
	s.Name = name
	r := mpReader{b: state}
	if n := r.arrayLen(); n < 6 && r.err == nil {
		r.fail("schedule state of %d items", n)
	}
	paused, next, last := r.int(), r.int(), r.int()
	lastTask := r.str()
	created, updated := r.int(), r.int()
	if r.err != nil {
		return nil, fmt.Errorf("schedule %s: %w", name, r.err)
	}
	s.Paused, s.LastTaskID = paused == 1, lastTask
	s.NextRunAt, s.LastRunAt = timeOfMicros(next), timeOfMicros(last)
	s.CreatedAt, s.UpdatedAt = timeOfMicros(created), timeOfMicros(updated)
	return s, nil
}

// decodeScheduleReply decodes a script's {definition, state} of name.
func decodeScheduleReply(name string, res any) (*archivist.Schedule, error) {
	rep, err := replyStrings(res, 2)
	if err != nil {
		return nil, err
	}
	return decodeSchedule(name, stringBytes(rep[0]), stringBytes(rep[1]))
}

func (r *Redis) evalSchedule(ctx context.Context, op, name string, args ...any) (*archivist.Schedule, error) {
	res, err := r.eval(ctx, op, luaScripts.schedule, args...)
	if err != nil {
		return nil, err
	}
	s, err := decodeScheduleReply(name, res)
	if err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	return s, nil
}

// CreateSchedule stores s, filling CreatedAt and UpdatedAt from the
// server's clock.
func (r *Redis) CreateSchedule(ctx context.Context, s *archivist.Schedule) error {
	if err := checkScheduleIn(s); err != nil {
		return err
	}
	def, err := scheduleDef(s)
	if err != nil {
		return err
	}
	got, err := r.evalSchedule(ctx, "create schedule", s.Name, "create", s.Name, def, formatBool(s.Paused),
		microsOf(s.NextRunAt), microsOf(s.LastRunAt), s.LastTaskID, archivist.MaxSchedules, string(s.Overlap))
	if err != nil {
		return err
	}
	s.CreatedAt, s.UpdatedAt = got.CreatedAt, got.UpdatedAt
	return nil
}

// UpdateSchedule replaces the definition and NextRunAt of schedule s.Name.
func (r *Redis) UpdateSchedule(ctx context.Context, s *archivist.Schedule) (*archivist.Schedule, error) {
	if err := checkScheduleIn(s); err != nil {
		return nil, err
	}
	def, err := scheduleDef(s)
	if err != nil {
		return nil, err
	}
	return r.evalSchedule(ctx, "update schedule", s.Name, "update", s.Name, def, microsOf(s.NextRunAt), string(s.Overlap))
}

// GetSchedule reads a schedule.
func (r *Redis) GetSchedule(ctx context.Context, name string) (*archivist.Schedule, error) {
	if err := r.read(); err != nil {
		return nil, err
	}
	// One HMGET-like read of both HASHes: they share the slot, so one
	// pipeline of the two, in one round trip.
	pipe := r.client.Pipeline()
	def := pipe.HGet(ctx, r.keys.schedules(), name)
	state := pipe.HGet(ctx, r.keys.scheduleStates(), name)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, r.mapErr("get schedule", err)
	}
	if errors.Is(def.Err(), redis.Nil) || errors.Is(state.Err(), redis.Nil) {
		return nil, notFound("schedule", name)
	}
	s, err := decodeSchedule(name, stringBytes(def.Val()), stringBytes(state.Val()))
	if err != nil {
		return nil, fmt.Errorf("redis store: %w", err)
	}
	return s, nil
}

// ListSchedules reads every schedule, sorted by name.
func (r *Redis) ListSchedules(ctx context.Context) ([]*archivist.Schedule, error) {
	if err := r.read(); err != nil {
		return nil, err
	}
	pipe := r.client.Pipeline()
	defs := pipe.HGetAll(ctx, r.keys.schedules())
	states := pipe.HGetAll(ctx, r.keys.scheduleStates())
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, r.mapErr("list schedules", err)
	}
	out := make([]*archivist.Schedule, 0, len(defs.Val()))
	st := states.Val()
	for name, def := range defs.Val() {
		state, ok := st[name]
		if !ok {
			continue // written by a script, so both or neither: not seen
		}
		s, err := decodeSchedule(name, stringBytes(def), stringBytes(state))
		if err != nil {
			return nil, fmt.Errorf("redis store: %w", err)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// PauseSchedule pauses or resumes a schedule (resuming sets NextRunAt to
// next); a schedule already as asked is returned unchanged.
func (r *Redis) PauseSchedule(ctx context.Context, name string, paused bool, next time.Time) (*archivist.Schedule, error) {
	if err := archivist.ValidScheduleName(name); err != nil {
		return nil, notFound("schedule", name)
	}
	return r.evalSchedule(ctx, "pause schedule", name, "pause", name, formatBool(paused), microsOf(next))
}

// DeleteSchedule removes a schedule.
func (r *Redis) DeleteSchedule(ctx context.Context, name string) error {
	if err := archivist.ValidScheduleName(name); err != nil {
		return notFound("schedule", name)
	}
	_, err := r.eval(ctx, "delete schedule", luaScripts.schedule, "delete", name)
	return err
}

// FireSchedule records one tick of a schedule and submits its task, in
// one script (lua/fire_schedule.lua): see archivist.ScheduleFire.
func (r *Redis) FireSchedule(ctx context.Context, f archivist.ScheduleFire) (*archivist.ScheduleFired, error) {
	if err := checkFire(f); err != nil {
		return nil, err
	}
	holder, token := leaseArgs(f.Lease)
	lastRun := f.Tick
	if !f.LastRun.IsZero() {
		lastRun = f.LastRun
	}
	args := []any{f.Name, formatBool(f.Manual), holder, token, microsOf(f.Tick), microsOf(f.Next), microsOf(lastRun)}
	if f.Task == nil {
		args = append(args, "0")
	} else {
		t := f.Task.Clone()
		t.Schedule = f.Name
		id := t.ID
		if id == "" {
			id = archivist.NewID(r.opts.Now())
		}
		args = appendCreateArgs(append(args, "1"), id, t)
	}
	res, err := r.eval(ctx, "fire schedule", luaScripts.fireSchedule, args...)
	if err != nil {
		return nil, err
	}
	out, err := decodeFired(f.Name, res)
	if err != nil {
		return nil, fmt.Errorf("redis store: fire schedule: %w", err)
	}
	return out, nil
}

// decodeFired decodes fire_schedule.lua's reply {definition, state,
// skipped, how ("c" created, "d" a duplicate, empty: none), task
// snapshot}.
func decodeFired(name string, res any) (*archivist.ScheduleFired, error) {
	rep, ok := res.([]any)
	if !ok || len(rep) < 4 {
		return nil, fmt.Errorf("unexpected script reply %v", res)
	}
	head, err := replyStrings(rep[:4], 4)
	if err != nil {
		return nil, err
	}
	s, err := decodeSchedule(name, stringBytes(head[0]), stringBytes(head[1]))
	if err != nil {
		return nil, err
	}
	out := &archivist.ScheduleFired{Schedule: s, Skipped: head[2]}
	if head[3] == "" {
		return out, nil
	}
	if len(rep) < 5 {
		return nil, fmt.Errorf("unexpected script reply %v", res)
	}
	if out.Task, err = decodeSnapshot(rep[4]); err != nil {
		return nil, err
	}
	out.Task.Duplicate = head[3] == "d"
	return out, nil
}
