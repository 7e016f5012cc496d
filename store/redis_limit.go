package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist"
)

// Limits and paused task types on Redis: lua/limit_lib.lua holds the
// layout and the rules (counting at placement and release, held sets,
// token buckets), lua/limit.lua the changes.

// redisLimitDef is a limit's definition as the scripts read it (cjson):
// the field names are the ones limit_lib.lua uses.
type redisLimitDef struct {
	ID            string
	TaskType      string
	Group         string
	MaxConcurrent int
	RatePerSecond float64
	Burst         int
}

func (r *Redis) SetLimit(ctx context.Context, in *archivist.Limit) (*archivist.Limit, error) {
	l, err := checkLimit(in)
	if err != nil {
		return nil, err
	}
	def, err := json.Marshal(redisLimitDef{ID: l.ID, TaskType: l.TaskType, Group: l.Group,
		MaxConcurrent: l.MaxConcurrent, RatePerSecond: l.RatePerSecond, Burst: l.Burst})
	if err != nil {
		return nil, err
	}
	if _, err := r.eval(ctx, "set limit", luaScripts.limit, "set", l.ID, string(def), archivist.MaxLimits); err != nil {
		return nil, err
	}
	ls, err := r.limits(ctx, l.ID)
	if err != nil {
		return nil, err
	}
	if len(ls) == 0 {
		return nil, archivist.Errorf(archivist.CodeConflict, "limit %q was removed meanwhile", l.ID)
	}
	return ls[0], nil
}

func (r *Redis) ListLimits(ctx context.Context) ([]*archivist.Limit, error) { return r.limits(ctx, "") }

// limits reads the limits (only limit only, if not "") with their use.
func (r *Redis) limits(ctx context.Context, only string) ([]*archivist.Limit, error) {
	p := r.keys.prefix
	pipe := r.client.Pipeline()
	defs := pipe.HGetAll(ctx, p+"limits")
	times := pipe.HGetAll(ctx, p+"limits:times")
	running := pipe.HGetAll(ctx, p+"limits:running")
	held := pipe.HGetAll(ctx, p+"limits:held")
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, r.mapErr("list limits", err)
	}
	// The size of each held set of a limit.
	var heldKeys []string
	for hk, lid := range held.Val() {
		if lid != "" && (only == "" || lid == only) {
			heldKeys = append(heldKeys, hk)
		}
	}
	sizes := map[string]int{}
	if len(heldKeys) > 0 {
		pipe = r.client.Pipeline()
		cards := make([]*redis.IntCmd, len(heldKeys))
		for i, hk := range heldKeys {
			cards[i] = pipe.ZCard(ctx, p+"held:"+hk)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, r.mapErr("list limits", err)
		}
		for i, hk := range heldKeys {
			sizes[hk] = int(cards[i].Val())
		}
	}
	var out []*archivist.Limit
	for _, id := range slices.Sorted(maps.Keys(defs.Val())) {
		if only != "" && id != only {
			continue
		}
		var d redisLimitDef
		if err := json.Unmarshal([]byte(defs.Val()[id]), &d); err != nil {
			return nil, fmt.Errorf("redis store: limit %s: %w", id, err)
		}
		l := &archivist.Limit{ID: d.ID, TaskType: d.TaskType, Group: d.Group, MaxConcurrent: d.MaxConcurrent,
			RatePerSecond: d.RatePerSecond, Burst: d.Burst}
		if c, u, ok := strings.Cut(times.Val()[id], ","); ok {
			l.CreatedAt, l.UpdatedAt = unixMicro(c), unixMicro(u)
		}
		fillUse(l, running.Val(), sizes)
		out = append(out, l)
	}
	return out, nil
}

func unixMicro(s string) time.Time {
	us, err := strconv.ParseInt(s, 10, 64)
	if err != nil || us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us)
}

// fillUse fills in the use of l from the slots in use and the sizes of
// the held sets, by counter key.
func fillUse(l *archivist.Limit, running map[string]string, held map[string]int) {
	if l.Group != archivist.AnyGroup {
		l.Running, _ = strconv.Atoi(running[l.ID])
		l.Held = held[l.ID]
		return
	}
	groups := map[string]*archivist.LimitGroupUse{}
	group := func(k string) *archivist.LimitGroupUse {
		g, ok := strings.CutPrefix(k, l.ID+"|")
		if !ok {
			return nil
		}
		u := groups[g]
		if u == nil {
			u = &archivist.LimitGroupUse{Group: g}
			groups[g] = u
		}
		return u
	}
	for k, v := range running {
		n, _ := strconv.Atoi(v)
		if u := group(k); u != nil && n > 0 {
			u.Running += n
			l.Running += n
		}
	}
	for k, n := range held {
		if u := group(k); u != nil && n > 0 {
			u.Held += n
			l.Held += n
		}
	}
	for _, u := range groups {
		l.Groups = append(l.Groups, *u)
	}
	sortGroupUse(l.Groups)
}

func (r *Redis) DeleteLimit(ctx context.Context, id string) error {
	_, err := r.eval(ctx, "delete limit", luaScripts.limit, "del", id)
	return err
}

func (r *Redis) PauseTaskType(ctx context.Context, taskType string, paused bool) (bool, error) {
	taskType = strings.TrimSpace(taskType)
	if taskType == "" {
		return false, archivist.Errorf(archivist.CodeBadUserInput, "name the task type to pause or resume")
	}
	on := "0"
	if paused {
		on = "1"
	}
	res, err := r.eval(ctx, "pause task type", luaScripts.limit, "pause", taskType, on)
	if err != nil {
		return false, err
	}
	return res == "1", nil
}

func (r *Redis) PausedTaskTypes(ctx context.Context) ([]string, error) {
	types, err := r.client.SMembers(ctx, r.keys.prefix+"paused").Result()
	if err != nil {
		return nil, r.mapErr("paused task types", err)
	}
	slices.Sort(types)
	return types, nil
}
