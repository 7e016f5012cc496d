package client

import (
	"context"
	"time"
)

// Limit is a limit as the API shows it: how many tasks of a scope run at
// once across the cluster and how many start per second, with its use now.
type Limit struct {
	// ID is the scope in words: type=T, group=G or type=T,group=G.
	ID string `json:"id"`
	// TaskType is "" for every type; Group "" for every group together,
	// "*" for each group separately.
	TaskType string `json:"taskType,omitempty"`
	Group    string `json:"group,omitempty"`
	// MaxConcurrent, RatePerSecond and Burst are 0 where there is no such
	// bound (the API's null).
	MaxConcurrent int     `json:"maxConcurrent,omitempty"`
	RatePerSecond float64 `json:"ratePerSecond,omitempty"`
	Burst         int     `json:"burst,omitempty"`
	// Running is how many slots are in use now; Held how many PENDING tasks
	// it holds back.
	Running int `json:"running"`
	Held    int `json:"held"`
	// Groups is, for a "*" limit, each group's use, busiest first.
	Groups    []LimitGroupUse `json:"groups"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// LimitGroupUse is one group's use of a limit whose group is "*".
type LimitGroupUse struct {
	Group   string `json:"group"`
	Running int    `json:"running"`
	Held    int    `json:"held"`
}

const limitFields = `id taskType group maxConcurrent ratePerSecond burst running held groups { group running held } createdAt updatedAt`

// LimitSpec sets a limit for SetLimit: a scope (TaskType, Group or both;
// Group "*" bounds each group separately) and at least one bound. Zero
// means no such bound (Burst 0 with a rate: the rate rounded up).
type LimitSpec struct {
	TaskType      string
	Group         string
	MaxConcurrent int
	RatePerSecond float64
	Burst         int
}

func (s LimitSpec) vars() map[string]any {
	in := map[string]any{}
	if s.TaskType != "" {
		in["taskType"] = s.TaskType
	}
	if s.Group != "" {
		in["group"] = s.Group
	}
	if s.MaxConcurrent != 0 {
		in["maxConcurrent"] = s.MaxConcurrent
	}
	if s.RatePerSecond != 0 {
		in["ratePerSecond"] = s.RatePerSecond
	}
	if s.Burst != 0 {
		in["burst"] = s.Burst
	}
	return map[string]any{"in": in}
}

// SetLimit sets the limit of spec's scope, replacing the one it had (admin
// only). A scope or bound out of range, or an unknown task type, gives
// BAD_USER_INPUT.
func (c *Client) SetLimit(ctx context.Context, spec LimitSpec) (*Limit, error) {
	var out struct{ SetLimit *Limit }
	err := c.Do(ctx, `mutation($in: LimitInput!) { setLimit(input: $in) { `+limitFields+` } }`, spec.vars(), &out)
	return out.SetLimit, err
}

// Limits lists the cluster's limits by id, with their use.
func (c *Client) Limits(ctx context.Context) ([]*Limit, error) {
	var out struct{ Limits []*Limit }
	err := c.Do(ctx, `{ limits { `+limitFields+` } }`, nil, &out)
	return out.Limits, err
}

// DeleteLimit removes a limit (admin only); an unknown id gives NOT_FOUND.
func (c *Client) DeleteLimit(ctx context.Context, id string) error {
	return c.Do(ctx, `mutation($id: ID!) { deleteLimit(id: $id) }`, map[string]any{"id": id}, nil)
}

// TaskTypeState is a task type and whether it is paused.
type TaskTypeState struct {
	Type   string `json:"type"`
	Paused bool   `json:"paused"`
}

// TaskTypeStates lists the task types the node accepts (and any other
// paused one), sorted, with whether each is paused.
func (c *Client) TaskTypeStates(ctx context.Context) ([]TaskTypeState, error) {
	var out struct{ TaskTypeStates []TaskTypeState }
	err := c.Do(ctx, `{ taskTypeStates { type paused } }`, nil, &out)
	return out.TaskTypeStates, err
}

// PauseTaskType pauses a task type: its tasks queue but are not placed
// until ResumeTaskType. It reports whether this call paused it (false: it
// was paused already). An unknown type gives BAD_USER_INPUT.
func (c *Client) PauseTaskType(ctx context.Context, taskType string) (bool, error) {
	var out struct{ PauseTaskType bool }
	err := c.Do(ctx, `mutation($t: String!) { pauseTaskType(type: $t) }`, map[string]any{"t": taskType}, &out)
	return out.PauseTaskType, err
}

// ResumeTaskType resumes a paused task type, and reports whether this call
// resumed it (false: it was not paused).
func (c *Client) ResumeTaskType(ctx context.Context, taskType string) (bool, error) {
	var out struct{ ResumeTaskType bool }
	err := c.Do(ctx, `mutation($t: String!) { resumeTaskType(type: $t) }`, map[string]any{"t": taskType}, &out)
	return out.ResumeTaskType, err
}
