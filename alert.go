package archivist

import "time"

// AlertStatus says whether an alert is on.
type AlertStatus string

// Alert statuses.
const (
	AlertFiring   AlertStatus = "FIRING"
	AlertResolved AlertStatus = "RESOLVED"
)

// Alert rules.
const (
	RuleNodeOffline   = "node_offline"
	RuleFailureRate   = "failure_rate"
	RulePendingTooOld = "pending_too_old"
	RuleNodeBusy      = "node_busy"
)

// Alert is a condition an alert rule found, firing until it clears.
type Alert struct {
	// ID is the rule and its subject: one alert per rule and subject.
	ID       string      `json:"id"`
	Rule     string      `json:"rule"`
	Subject  string      `json:"subject"`
	Severity string      `json:"severity"`
	Status   AlertStatus `json:"status"`
	Message  string      `json:"message"`
	// Value is the measured value that crossed the rule's limit.
	Value      float64   `json:"value"`
	StartedAt  time.Time `json:"startedAt"`
	ResolvedAt time.Time `json:"resolvedAt,omitzero"`
}
