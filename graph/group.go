package graph

import (
	"cmp"
	"context"
	"slices"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph/model"
)

// defaultGroups is how many groups taskGroups lists when not told.
const defaultGroups = 20

// taskCounts lists counts in every status, in lifecycle order.
func taskCounts(counts map[archivist.TaskStatus]int) []*model.TaskCount {
	out := make([]*model.TaskCount, len(archivist.AllTaskStatuses))
	for i, s := range archivist.AllTaskStatuses {
		out[i] = &model.TaskCount{Status: s, Count: counts[s]}
	}
	return out
}

// countTasks counts every task by status, or only those of group when it
// is not empty.
func (r *Resolver) countTasks(ctx context.Context, group string) (map[archivist.TaskStatus]int, error) {
	if group == "" {
		return r.Store.CountTasks(ctx)
	}
	if err := archivist.CheckGroup(group); err != nil {
		return nil, err
	}
	groups, err := r.Store.CountGroups(ctx, group)
	if err != nil {
		return nil, err
	}
	return groups[group], nil
}

// taskGroups lists the groups that have tasks, busiest first: by
// unfinished tasks, then all tasks, then name; at most first (default
// defaultGroups, at most maxPageSize).
func (r *Resolver) taskGroups(ctx context.Context, first *int) ([]*model.TaskGroup, error) {
	n := defaultGroups
	if first != nil {
		if *first < 0 || *first > maxPageSize {
			return nil, archivist.Errorf(archivist.CodeBadUserInput, "first must be between 0 and %d", maxPageSize)
		}
		n = *first
	}
	groups, err := r.Store.CountGroups(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*model.TaskGroup, 0, len(groups))
	for g, counts := range groups {
		tg := &model.TaskGroup{Group: g, Counts: taskCounts(counts)}
		for st, c := range counts {
			tg.Total += c
			if !st.Terminal() {
				tg.Unfinished += c
			}
		}
		out = append(out, tg)
	}
	slices.SortFunc(out, func(a, b *model.TaskGroup) int {
		return cmp.Or(cmp.Compare(b.Unfinished, a.Unfinished), cmp.Compare(b.Total, a.Total), cmp.Compare(a.Group, b.Group))
	})
	return out[:min(n, len(out))], nil
}
