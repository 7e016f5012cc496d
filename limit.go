package archivist

import (
	"math"
	"strings"
	"time"
)

// A Limit bounds how many tasks of a kind run at once across the cluster
// (MaxConcurrent) and how many start per second (RatePerSecond, with Burst
// starts saved up at most). It applies to the tasks of TaskType ("" any
// type) in Group: "" counts every group together, AnyGroup counts each
// group separately ("each campaign at most 2 thumbnails at once"), any
// other value only that group.
//
// The store counts a limit's slots atomically when it places a task and
// when the task stops running (whatever ends it: completion, failure, a
// lost node, a release), so a crashed node's slots come back with its
// tasks. A PENDING task that a full limit holds back says so (Task.HeldBy)
// and is passed over: the ready tasks behind it are placed.
type Limit struct {
	// ID is the limit's scope in words (LimitID): setting a limit of the
	// same TaskType and Group replaces it.
	ID            string
	TaskType      string
	Group         string
	MaxConcurrent int     // 0: no bound on tasks running at once
	RatePerSecond float64 // 0: no bound on starts per second
	Burst         int     // starts the rate may save up; 0 with a rate: max(1, ceil(rate))
	CreatedAt     time.Time
	UpdatedAt     time.Time

	// Filled in by the store when it returns a limit:
	// Running is how many slots are in use now (all groups, for AnyGroup).
	Running int
	// Held is how many PENDING tasks it holds back now.
	Held int
	// Groups, for an AnyGroup limit, is the use of each group that has
	// tasks running or held, busiest first.
	Groups []LimitGroupUse
}

// LimitGroupUse is one group's use of an AnyGroup limit.
type LimitGroupUse struct {
	Group   string
	Running int
	Held    int
}

// Bounds on a limit.
const (
	MaxLimitConcurrent = 1_000_000
	MaxLimitRate       = 1_000_000
	MaxLimitBurst      = 1_000_000
	// MaxLimits is how many limits a cluster may have.
	MaxLimits = 1000
)

// HeldPaused is Task.HeldBy for a task whose type is paused.
const HeldPaused = "paused"

// HeldByLimit is Task.HeldBy for a task a full limit holds back.
func HeldByLimit(id string) string { return "limit " + id }

// LimitID names the limit of a scope: "type=T", "group=G", or
// "type=T,group=G".
func LimitID(taskType, group string) string {
	var parts []string
	if taskType != "" {
		parts = append(parts, "type="+taskType)
	}
	if group != "" {
		parts = append(parts, "group="+group)
	}
	return strings.Join(parts, ",")
}

// Applies reports whether the limit counts t.
func (l *Limit) Applies(t *Task) bool {
	if l.TaskType != "" && l.TaskType != t.Type {
		return false
	}
	return l.Group == "" || l.Group == AnyGroup || l.Group == t.Group
}

// Key is the counter of l that t takes a slot in: the limit's ID, with the
// task's group for an AnyGroup limit.
func (l *Limit) Key(t *Task) string {
	if l.Group == AnyGroup {
		return l.ID + "|" + t.Group
	}
	return l.ID
}

// NewLimit validates a limit as setLimit takes it, fills in its ID and the
// default burst, and returns it. Errors are BAD_USER_INPUT. reg, if not
// nil, must know TaskType.
func NewLimit(l Limit, reg *Registry) (*Limit, error) {
	l.TaskType = strings.TrimSpace(l.TaskType)
	switch {
	case l.TaskType == "" && l.Group == "":
		return nil, Errorf(CodeBadUserInput, "a limit needs a taskType, a group, or both")
	case l.MaxConcurrent == 0 && l.RatePerSecond == 0:
		return nil, Errorf(CodeBadUserInput, "a limit needs maxConcurrent, ratePerSecond, or both")
	case l.MaxConcurrent < 0 || l.MaxConcurrent > MaxLimitConcurrent:
		return nil, Errorf(CodeBadUserInput, "maxConcurrent must be between 1 and %d", MaxLimitConcurrent)
	case math.IsNaN(l.RatePerSecond) || l.RatePerSecond < 0 || l.RatePerSecond > MaxLimitRate:
		return nil, Errorf(CodeBadUserInput, "ratePerSecond must be between 0 and %d", MaxLimitRate)
	case l.Burst < 0 || l.Burst > MaxLimitBurst:
		return nil, Errorf(CodeBadUserInput, "burst must be between 1 and %d", MaxLimitBurst)
	case l.Burst > 0 && l.RatePerSecond == 0:
		return nil, Errorf(CodeBadUserInput, "burst needs a ratePerSecond")
	}
	if l.Group != AnyGroup {
		if err := CheckGroup(l.Group); err != nil {
			return nil, err
		}
	}
	if reg != nil && l.TaskType != "" {
		if _, ok := reg.Lookup(l.TaskType); !ok {
			return nil, Errorf(CodeBadUserInput, "unknown task type %q; known types: %s", Clip(l.TaskType), strings.Join(reg.Types(), ", "))
		}
	}
	if l.RatePerSecond > 0 && l.Burst == 0 {
		l.Burst = max(1, int(math.Ceil(l.RatePerSecond)))
	}
	l.ID = LimitID(l.TaskType, l.Group)
	l.Running, l.Held, l.Groups = 0, 0, nil
	return &l, nil
}

// Clone returns a deep copy of l.
func (l *Limit) Clone() *Limit {
	if l == nil {
		return nil
	}
	c := *l
	c.Groups = append([]LimitGroupUse(nil), l.Groups...)
	return &c
}
