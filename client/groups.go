package client

import "context"

// GroupCounts is one group's tasks counted by status (TaskGroup).
type GroupCounts struct {
	Group string
	// Unfinished counts the tasks neither COMPLETED, FAILED, CANCELLED nor
	// TIMED_OUT; Total all of them.
	Unfinished int
	Total      int
	// Counts maps each status to how many of the group's tasks are in it;
	// a status with none is absent.
	Counts map[string]int
}

type statusCount struct {
	Status string `json:"status"`
	Count  int    `json:"count"`
}

func countMap(list []statusCount) map[string]int {
	m := map[string]int{}
	for _, c := range list {
		if c.Count != 0 {
			m[c.Status] = c.Count
		}
	}
	return m
}

// Counts returns how many tasks are in each status (a status with none is
// absent): all tasks, or with group, only that group's.
func (c *Client) Counts(ctx context.Context, group string) (map[string]int, error) {
	vars := map[string]any{}
	if group != "" {
		vars["g"] = group
	}
	var out struct{ TaskCounts []statusCount }
	if err := c.Do(ctx, `query($g: String) { taskCounts(group: $g) { status count } }`, vars, &out); err != nil {
		return nil, err
	}
	return countMap(out.TaskCounts), nil
}

// Groups lists the groups that have tasks, busiest first (by unfinished
// tasks, then all tasks, then name); first bounds how many (0: the
// server's default, 20).
func (c *Client) Groups(ctx context.Context, first int) ([]*GroupCounts, error) {
	vars := map[string]any{}
	if first > 0 {
		vars["first"] = first
	}
	var out struct {
		TaskGroups []struct {
			Group             string
			Unfinished, Total int
			Counts            []statusCount
		}
	}
	if err := c.Do(ctx, `query($first: Int) { taskGroups(first: $first) { group unfinished total counts { status count } } }`, vars, &out); err != nil {
		return nil, err
	}
	list := make([]*GroupCounts, len(out.TaskGroups))
	for i, g := range out.TaskGroups {
		list[i] = &GroupCounts{Group: g.Group, Unfinished: g.Unfinished, Total: g.Total, Counts: countMap(g.Counts)}
	}
	return list, nil
}
