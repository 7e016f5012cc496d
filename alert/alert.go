package alert

import "time"

// Status says whether an alert is on.
type Status string

// Alert statuses.
const (
	Firing   Status = "FIRING"
	Resolved Status = "RESOLVED"
)

// The rules an Alert comes from (Alert.Rule, and the first half of its ID).
const (
	RuleNodeOffline   = "node_offline"
	RuleFailureRate   = "failure_rate"
	RulePendingTooOld = "pending_too_old"
	RuleNodeBusy      = "node_busy"
)

// Alert is a condition an alert rule found, firing until it clears.
type Alert struct {
	// ID is the rule and its subject: one alert per rule and subject.
	ID       string `json:"id"`
	Rule     string `json:"rule"`
	Subject  string `json:"subject"`
	Severity string `json:"severity"`
	Status   Status `json:"status"`
	Message  string `json:"message"`
	// Value is the measured value that crossed the rule's limit.
	Value      float64   `json:"value"`
	StartedAt  time.Time `json:"startedAt"`
	ResolvedAt time.Time `json:"resolvedAt,omitzero"`
}
