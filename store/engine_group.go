package store

import (
	"context"

	"github.com/rpg-archivist/archivist"
)

// countGroup adds d to the tasks of group g in status st, forgetting a
// status, and then a group, with none left: the counters hold only the
// groups that have tasks, so listing them costs nothing per task.
func (e *engine) countGroup(g string, st archivist.TaskStatus, d int) {
	c := e.groups[g]
	if c == nil {
		if d <= 0 {
			return
		}
		if e.groups == nil {
			e.groups = map[string]map[archivist.TaskStatus]int{}
		}
		c = map[archivist.TaskStatus]int{}
		e.groups[g] = c
	}
	if n := c[st] + d; n > 0 {
		c[st] = n
	} else {
		delete(c, st)
		if len(c) == 0 {
			delete(e.groups, g)
		}
	}
}

func (e *engine) CountGroups(ctx context.Context, groups ...string) (map[string]map[archivist.TaskStatus]int, error) {
	out := map[string]map[archivist.TaskStatus]int{}
	err := e.view(func() error {
		add := func(g string, c map[archivist.TaskStatus]int) {
			if len(c) == 0 {
				return
			}
			cp := make(map[archivist.TaskStatus]int, len(c))
			for st, n := range c {
				cp[st] = n
			}
			out[g] = cp
		}
		if len(groups) == 0 {
			for g, c := range e.groups {
				add(g, c)
			}
			return nil
		}
		for _, g := range groups {
			add(g, e.groups[g])
		}
		return nil
	})
	return out, err
}
