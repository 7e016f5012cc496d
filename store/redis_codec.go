package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rpg-archivist/archivist"
)

// A task is stored as a HASH with one field per Task field. Times are unix
// microseconds of the server clock; a zero time, an empty string or a zero
// count may be absent. Input, result and metadata are kept as the caller's
// bytes. Event entries carry the same fields plus reserved ones starting
// with "_" (see redis_events.go), so one decoder reads both.
const (
	fID         = "id"
	fType       = "type"
	fInput      = "input"
	fPriority   = "prio"
	fTimeout    = "timeout" // nanoseconds
	fMaxRetries = "maxr"
	fMetadata   = "meta"
	fStatus     = "status"
	fResult     = "result"
	fError      = "error"
	fAttempt    = "attempt"
	fFailures   = "failures"
	fRequeues   = "requeues"
	fProgress   = "progress"
	fProgMsg    = "pmsg"
	fNode       = "node"
	fCancel     = "cancel" // "1" when a cancel was requested
	fCreated    = "created"
	fUpdated    = "updated"
	fAssigned   = "assigned"
	fStarted    = "started"
	fCompleted  = "completed"
	fRunAt      = "runat"
	fLease      = "lease"
	fSeq        = "seq"
)

// setTaskField decodes one hash field into t. Unknown fields and reserved
// event fields are skipped.
func setTaskField(t *archivist.Task, k, v string) error {
	var err error
	switch k {
	case fID:
		t.ID = v
	case fType:
		t.Type = v
	case fInput:
		t.Input = json.RawMessage(v)
	case fPriority:
		t.Priority = archivist.Priority(v)
	case fTimeout:
		var n int64
		n, err = strconv.ParseInt(v, 10, 64)
		t.Timeout = time.Duration(n)
	case fMaxRetries:
		t.MaxRetries, err = strconv.Atoi(v)
	case fMetadata:
		t.Metadata = json.RawMessage(v)
	case fStatus:
		t.Status = archivist.TaskStatus(v)
	case fResult:
		t.Result = json.RawMessage(v)
	case fError:
		t.Error = v
	case fAttempt:
		t.Attempt, err = strconv.Atoi(v)
	case fFailures:
		t.Failures, err = strconv.Atoi(v)
	case fRequeues:
		t.Requeues, err = strconv.Atoi(v)
	case fProgress:
		t.Progress, err = strconv.ParseFloat(v, 64)
	case fProgMsg:
		t.ProgressMessage = v
	case fNode:
		t.NodeID = v
	case fCancel:
		t.CancelRequested = v == "1"
	case fCreated:
		t.CreatedAt, err = parseMicros(v)
	case fUpdated:
		t.UpdatedAt, err = parseMicros(v)
	case fAssigned:
		t.AssignedAt, err = parseMicros(v)
	case fStarted:
		t.StartedAt, err = parseMicros(v)
	case fCompleted:
		t.CompletedAt, err = parseMicros(v)
	case fRunAt:
		t.RunAt, err = parseMicros(v)
	case fLease:
		t.LeaseUntil, err = parseMicros(v)
	case fSeq:
		t.Seq, err = strconv.ParseUint(v, 10, 64)
	}
	if err != nil {
		return fmt.Errorf("task field %s=%q: %w", k, v, err)
	}
	return nil
}

// decodeTaskPairs decodes a flat field/value list (HGETALL, or a script's
// snapshot). An empty list is no task: nil, nil.
func decodeTaskPairs(pairs []any) (*archivist.Task, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	if len(pairs)%2 != 0 {
		return nil, fmt.Errorf("task snapshot has an odd number of items (%d)", len(pairs))
	}
	t := &archivist.Task{}
	for i := 0; i < len(pairs); i += 2 {
		k, _ := pairs[i].(string)
		v, _ := pairs[i+1].(string)
		if err := setTaskField(t, k, v); err != nil {
			return nil, err
		}
	}
	if t.ID == "" {
		return nil, fmt.Errorf("task snapshot without an id")
	}
	return t, nil
}

// decodeTaskMap decodes HGETALL as go-redis returns it; empty: nil, nil.
func decodeTaskMap(m map[string]string) (*archivist.Task, error) {
	if len(m) == 0 {
		return nil, nil
	}
	t := &archivist.Task{}
	for k, v := range m {
		if err := setTaskField(t, k, v); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// decodeTaskList decodes a script's list of task snapshots.
func decodeTaskList(res any) ([]*archivist.Task, error) {
	list, ok := res.([]any)
	if !ok {
		return nil, fmt.Errorf("unexpected script reply %T", res)
	}
	out := make([]*archivist.Task, 0, len(list))
	for _, item := range list {
		pairs, ok := item.([]any)
		if !ok {
			return nil, fmt.Errorf("unexpected task snapshot %T", item)
		}
		t, err := decodeTaskPairs(pairs)
		if err != nil {
			return nil, err
		}
		if t != nil {
			out = append(out, t)
		}
	}
	return out, nil
}

// decodeTaskReply decodes a script's single task snapshot.
func decodeTaskReply(res any) (*archivist.Task, error) {
	pairs, ok := res.([]any)
	if !ok {
		return nil, fmt.Errorf("unexpected script reply %T", res)
	}
	t, err := decodeTaskPairs(pairs)
	if err == nil && t == nil {
		err = fmt.Errorf("empty task snapshot")
	}
	return t, err
}

func parseMicros(v string) (time.Time, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}, err
	}
	return time.UnixMicro(n), nil
}

func micros(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }

func formatBool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// encodeNode is the stored form of a node. Draining is kept apart (the
// draining SET) so that a heartbeat cannot change it.
func encodeNode(n *archivist.Node) (string, error) {
	c := *n
	c.Draining = false
	b, err := json.Marshal(&c)
	return string(b), err
}

func decodeNode(js string, draining bool) (*archivist.Node, error) {
	n := &archivist.Node{}
	if err := json.Unmarshal([]byte(js), n); err != nil {
		return nil, fmt.Errorf("decode node: %w", err)
	}
	n.Draining = draining
	return n, nil
}

// encodeConfig is the stored form of a config; its version and time are
// kept apart (set by the script from the server).
func encodeConfig(c archivist.Config) (string, error) {
	c.Version, c.UpdatedAt = 0, time.Time{}
	b, err := json.Marshal(c)
	return string(b), err
}

func decodeConfig(js, version, updated string) (archivist.Config, error) {
	var c archivist.Config
	if err := json.Unmarshal([]byte(js), &c); err != nil {
		return c, fmt.Errorf("decode config: %w", err)
	}
	v, err := strconv.ParseInt(version, 10, 64)
	if err != nil {
		return c, fmt.Errorf("config version %q: %w", version, err)
	}
	at, err := parseMicros(updated)
	if err != nil {
		return c, fmt.Errorf("config time %q: %w", updated, err)
	}
	c.Version, c.UpdatedAt = v, at
	return c, nil
}

// Reserved fields of an event entry.
const (
	evKind     = "_k" // T, N or C
	evType     = "_t"
	evTime     = "_ts" // µs
	evDetail   = "_d"
	evNode     = "_n"   // node JSON
	evNodeID   = "_nid" // a node with no stored description
	evDraining = "_dr"
	evConfig   = "_c" // config JSON
	evVersion  = "_v"
)

// decodeEvent decodes one stream entry.
func decodeEvent(id string, values map[string]any) (archivist.Event, error) {
	var ev archivist.Event
	seq, err := entrySeq(id)
	if err != nil {
		return ev, err
	}
	ev.Seq = seq
	str := func(k string) string { s, _ := values[k].(string); return s }
	ev.Type, ev.Detail = str(evType), str(evDetail)
	if ev.Time, err = parseMicros(str(evTime)); err != nil {
		return ev, fmt.Errorf("event %s time: %w", id, err)
	}
	switch str(evKind) {
	case "T":
		ev.Kind = archivist.EventTask
		t := &archivist.Task{}
		for k, v := range values {
			if strings.HasPrefix(k, "_") {
				continue
			}
			s, _ := v.(string)
			if err := setTaskField(t, k, s); err != nil {
				return ev, fmt.Errorf("event %s: %w", id, err)
			}
		}
		ev.Task = t
	case "N":
		ev.Kind = archivist.EventNode
		if js := str(evNode); js != "" {
			if ev.Node, err = decodeNode(js, str(evDraining) == "1"); err != nil {
				return ev, fmt.Errorf("event %s: %w", id, err)
			}
		} else {
			ev.Node = &archivist.Node{ID: str(evNodeID)}
		}
	case "C":
		ev.Kind = archivist.EventConfig
		c, err := decodeConfig(str(evConfig), str(evVersion), str(evTime))
		if err != nil {
			return ev, fmt.Errorf("event %s: %w", id, err)
		}
		ev.Config = &c
	default:
		return ev, fmt.Errorf("event %s of unknown kind %q", id, str(evKind))
	}
	return ev, nil
}

// entrySeq is the event Seq of stream entry id "<seq>-0".
func entrySeq(id string) (uint64, error) {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseUint(ms, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stream entry id %q: %w", id, err)
	}
	return n, nil
}

func entryID(seq uint64) string { return strconv.FormatUint(seq, 10) + "-0" }
