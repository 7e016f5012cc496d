package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/rpg-archivist/archivist"
)

// A task is stored as a HASH of two MessagePack arrays and its result (see
// store/lua/lib.lua):
//
//	i       [type, input, metadata], then the schedule and the group when
//	        the task has them (see encodeTaskInfo): written once, at creation
//	m       the fields transitions read and change, in the m* order below;
//	        a task with its own retry backoff has two more at the end, one
//	        with a unique key two more, a workflow step two more, a task
//	        that was PENDING its Turn
//	result  the result, as the worker gave it (absent when none)
//
// Times are unix microseconds of the server clock, the timeout is in
// nanoseconds; an absent value is 0 or "". Input, result and metadata are
// kept as the caller's bytes. Events carry the same i and m (see
// decodeEntry), so one decoder reads both.
const (
	fInfo   = "i"
	fMut    = "m"
	fResult = "result"
)

// Positions in m (1-based in Lua).
const (
	mStatus = iota
	mAttempt
	mFailures
	mRequeues
	mProgress
	mProgMsg
	mNode
	mCancel // 1 when a cancel was requested
	mCreated
	mUpdated
	mAssigned
	mStarted
	mCompleted
	mRunAt
	mLease
	mError
	mPriority
	mSeq
	mTimeout // nanoseconds
	mMaxRetries
	// mFields is how many fields every task has.
	mFields
	// The task's own retry backoff (ns; 0: the cluster's), only in the m of
	// a task that has one, so the m of the others is no bigger for it.
	mRetryBackoff = mFields
	mMaxBackoff   = mFields + 1
	// Then the task's unique key and unique-for (ns), only in the m of a
	// task that has a key (after the backoff ones, then 0 if it has none).
	mUniqueKey = mFields + 2
	mUniqueFor = mFields + 3
	// Then, only for a workflow step, its workflow id and step key (the
	// four before are then 0 or "").
	mWorkflow = mFields + 4
	mStepKey  = mFields + 5
	// Then, once the task was PENDING, its Turn (the workflow ones before
	// it are then false when it is no step).
	mTurn = mFields + 6
	// Then, only for a task that limits or pauses touched, its HeldBy and
	// what it holds (store/lua/limit_lib.lua); the ones before are then
	// false (workflow) or 0 (turn) when unset.
	mHeldBy = mFields + 7
	mSlots  = mFields + 8
)

// --- MessagePack, the subset cmsgpack writes ---

// stringBytes is s as bytes without a copy, for mpReader, which only reads
// them (what it returns is copied before it escapes: see str and
// decodeTask).
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// mpReader reads MessagePack values from b. The first error sticks: later
// reads return zero values.
type mpReader struct {
	b   []byte
	err error
}

func (r *mpReader) fail(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("msgpack: "+format, a...)
	}
	r.b = nil
}

func (r *mpReader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if len(r.b) < n {
		r.fail("truncated")
		return false
	}
	return true
}

func (r *mpReader) take(n int) []byte {
	if !r.need(n) {
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *mpReader) byte1() byte {
	if !r.need(1) {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *mpReader) uint(n int) uint64 {
	b := r.take(n)
	switch n {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(b))
	case 4:
		return uint64(binary.BigEndian.Uint32(b))
	case 8:
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// arrayLen reads an array header.
func (r *mpReader) arrayLen() int {
	c := r.byte1()
	switch {
	case r.err != nil:
		return 0
	case c&0xf0 == 0x90:
		return int(c & 0x0f)
	case c == 0xdc:
		return int(r.uint(2))
	case c == 0xdd:
		return int(r.uint(4))
	}
	r.fail("array expected, found 0x%02x", c)
	return 0
}

// raw reads a string or binary value without copying it; nil reads as
// empty.
func (r *mpReader) raw() []byte { return r.rawFrom(r.byte1()) }

// rawFrom reads the string or binary value whose first byte was c.
func (r *mpReader) rawFrom(c byte) []byte {
	var n int
	switch {
	case r.err != nil:
		return nil
	case c&0xe0 == 0xa0:
		n = int(c & 0x1f)
	case c == 0xd9 || c == 0xc4:
		n = int(r.uint(1))
	case c == 0xda || c == 0xc5:
		n = int(r.uint(2))
	case c == 0xdb || c == 0xc6:
		n = int(r.uint(4))
	case c == 0xc0, c == 0xc2: // nil, or false (an absent field: see lib.lua)
		return nil
	default:
		r.fail("string expected, found 0x%02x", c)
		return nil
	}
	return r.take(n)
}

func (r *mpReader) str() string { return string(r.raw()) }

// num reads a number (or a numeric string, or nil as 0).
func (r *mpReader) num() float64 {
	c := r.byte1()
	switch {
	case r.err != nil:
		return 0
	case c <= 0x7f:
		return float64(c)
	case c >= 0xe0:
		return float64(int8(c))
	case c == 0xc0:
		return 0
	case c == 0xcc, c == 0xcd, c == 0xce, c == 0xcf:
		return float64(r.uint(1 << (c - 0xcc)))
	case c == 0xd0:
		return float64(int8(r.uint(1)))
	case c == 0xd1:
		return float64(int16(r.uint(2)))
	case c == 0xd2:
		return float64(int32(r.uint(4)))
	case c == 0xd3:
		return float64(int64(r.uint(8)))
	case c == 0xca:
		return float64(math.Float32frombits(uint32(r.uint(4))))
	case c == 0xcb:
		return math.Float64frombits(r.uint(8))
	case c&0xe0 == 0xa0, c == 0xd9, c == 0xda, c == 0xdb:
		s := string(r.rawFrom(c))
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && s != "" {
			r.fail("number expected, found %q", s)
		}
		return f
	}
	r.fail("number expected, found 0x%02x", c)
	return 0
}

func (r *mpReader) int() int64 { return int64(r.num()) }

// appendMsgpackArray appends an array header for n items.
func appendMsgpackArray(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}

// appendMsgpackRaw appends s as a raw string, in the forms every
// MessagePack reader knows (fixraw, raw16, raw32).
func appendMsgpackRaw(b, s []byte) []byte {
	switch n := len(s); {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n < 1<<16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

// encodeTaskInfo is a new task's i: [type, input, metadata], and the name
// of the schedule that submitted it when one did, its group when it has
// one, and its trace when it has one (each item before the last present is
// then "" if none; lua/limit_lib.lua reads the group).
func encodeTaskInfo(t *archivist.Task) []byte {
	b := make([]byte, 0, 16+len(t.Type)+len(t.Input)+len(t.Metadata)+len(t.Schedule)+len(t.Group)+len(t.Trace))
	switch {
	case t.Trace != "":
		b = appendMsgpackArray(b, 6)
	case t.Group != "":
		b = appendMsgpackArray(b, 5)
	case t.Schedule != "":
		b = appendMsgpackArray(b, 4)
	default:
		b = appendMsgpackArray(b, 3)
	}
	b = appendMsgpackRaw(b, []byte(t.Type))
	b = appendMsgpackRaw(b, t.Input)
	b = appendMsgpackRaw(b, t.Metadata)
	if t.Schedule != "" || t.Group != "" || t.Trace != "" {
		b = appendMsgpackRaw(b, []byte(t.Schedule))
	}
	if t.Group != "" || t.Trace != "" {
		b = appendMsgpackRaw(b, []byte(t.Group))
	}
	if t.Trace != "" {
		b = appendMsgpackRaw(b, []byte(t.Trace))
	}
	return b
}

// decodeTask builds a task from its stored parts; m empty is no task.
func decodeTask(id, info, mut, result string) (*archivist.Task, error) {
	return decodeTaskBytes(id, stringBytes(info), stringBytes(mut), stringBytes(result))
}

// decodeTaskBytes is decodeTask on bytes that it only reads.
func decodeTaskBytes(id string, info, mut, result []byte) (*archivist.Task, error) {
	if len(mut) == 0 {
		return nil, nil
	}
	t := &archivist.Task{ID: id}
	if len(info) > 0 {
		r := mpReader{b: info}
		if n := r.arrayLen(); n >= 3 {
			t.Type = r.str()
			// Copies: callers may change a task's JSON.
			if in := r.raw(); len(in) > 0 {
				t.Input = append(json.RawMessage(nil), in...)
			}
			if md := r.raw(); len(md) > 0 {
				t.Metadata = append(json.RawMessage(nil), md...)
			}
			if n > 3 {
				t.Schedule = r.str()
			}
			if n > 4 {
				t.Group = r.str()
			}
			if n > 5 {
				t.Trace = r.str()
			}
		} else if r.err == nil {
			r.fail("task info has %d items", n)
		}
		if r.err != nil {
			return nil, fmt.Errorf("task %s: %w", id, r.err)
		}
	}
	if err := decodeMut(t, mut); err != nil {
		return nil, fmt.Errorf("task %s: %w", id, err)
	}
	if len(result) > 0 {
		t.Result = append(json.RawMessage(nil), result...)
	}
	return t, nil
}

func decodeMut(t *archivist.Task, mut []byte) error {
	r := mpReader{b: mut}
	n := r.arrayLen()
	if r.err == nil && n < mFields {
		return fmt.Errorf("task fields: %d items, want %d", n, mFields)
	}
	us := func() time.Time {
		v := r.int()
		if v == 0 {
			return time.Time{}
		}
		return time.UnixMicro(v)
	}
	t.Status = archivist.TaskStatus(knownString(r.raw()))
	t.Attempt = int(r.int())
	t.Failures = int(r.int())
	t.Requeues = int(r.int())
	t.Progress = r.num()
	t.ProgressMessage = r.str()
	t.NodeID = r.str()
	t.CancelRequested = r.int() == 1
	t.CreatedAt = us()
	t.UpdatedAt = us()
	t.AssignedAt = us()
	t.StartedAt = us()
	t.CompletedAt = us()
	t.RunAt = us()
	t.LeaseUntil = us()
	t.Error = r.str()
	t.Priority = archivist.Priority(knownString(r.raw()))
	t.Seq = uint64(r.int())
	t.Timeout = time.Duration(r.int())
	t.MaxRetries = int(r.int())
	if n > mMaxBackoff {
		t.RetryBackoff = time.Duration(r.int())
		t.MaxBackoff = time.Duration(r.int())
	}
	if n > mUniqueFor {
		t.UniqueKey = r.str()
		t.UniqueFor = time.Duration(r.int())
	}
	if n > mStepKey {
		t.WorkflowID = r.str()
		t.StepKey = r.str()
	}
	if n > mTurn {
		t.Turn = uint64(r.int())
	}
	if n > mHeldBy {
		t.HeldBy = r.str()
	}
	return r.err
}

// knownString is string(b), without allocating for the statuses and
// priorities every task carries.
func knownString(b []byte) string {
	switch string(b) {
	case "SCHEDULED":
		return "SCHEDULED"
	case "WAITING":
		return "WAITING"
	case "PENDING":
		return "PENDING"
	case "ASSIGNED":
		return "ASSIGNED"
	case "IN_PROGRESS":
		return "IN_PROGRESS"
	case "RETRYING":
		return "RETRYING"
	case "COMPLETED":
		return "COMPLETED"
	case "FAILED":
		return "FAILED"
	case "CANCELLED":
		return "CANCELLED"
	case "TIMED_OUT":
		return "TIMED_OUT"
	case "LOW":
		return "LOW"
	case "NORMAL":
		return "NORMAL"
	case "HIGH":
		return "HIGH"
	case "CRITICAL":
		return "CRITICAL"
	case "":
		return ""
	}
	return string(b)
}

// decodeSnapshot decodes a script's task snapshot {id, i, m, result}.
func decodeSnapshot(v any) (*archivist.Task, error) {
	parts, ok := v.([]any)
	if !ok || len(parts) != 4 {
		return nil, fmt.Errorf("unexpected task snapshot %v", v)
	}
	var s [4]string
	for i, p := range parts {
		s[i], _ = p.(string)
	}
	t, err := decodeTask(s[0], s[1], s[2], s[3])
	if err == nil && t == nil {
		err = fmt.Errorf("empty task snapshot of %q", s[0])
	}
	return t, err
}

// decodeTaskMap decodes HGETALL of task id as go-redis returns it; empty:
// nil, nil.
func decodeTaskMap(id string, m map[string]string) (*archivist.Task, error) {
	if len(m) == 0 {
		return nil, nil
	}
	return decodeTask(id, m[fInfo], m[fMut], m[fResult])
}

// decodeTaskList decodes a script's list of task snapshots.
func decodeTaskList(res any) ([]*archivist.Task, error) {
	list, ok := res.([]any)
	if !ok {
		return nil, fmt.Errorf("unexpected script reply %T", res)
	}
	out := make([]*archivist.Task, 0, len(list))
	for _, item := range list {
		t, err := decodeSnapshot(item)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// decodeEvents decodes packed events whose last has Seq last (0: unknown,
// then every Seq is 0); an empty blob is none.
func decodeEvents(blob string, last uint64) ([]archivist.Event, error) {
	if blob == "" {
		return nil, nil
	}
	r := mpReader{b: stringBytes(blob)}
	if r.arrayLen() != 2 {
		if r.err == nil {
			r.fail("events are not [time, events]")
		}
		return nil, r.err
	}
	at := time.UnixMicro(r.int())
	n := r.arrayLen()
	if last != 0 && uint64(n) > last {
		return nil, fmt.Errorf("%d events up to Seq %d", n, last)
	}
	out := make([]archivist.Event, 0, n)
	for k := range n {
		var seq uint64
		if last != 0 {
			seq = last - uint64(n) + 1 + uint64(k)
		}
		ev, err := decodeEvent(&r, seq, at)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, r.err
}

// eventCount is the number of events in blob (0 when it does not decode).
func eventCount(blob string) int {
	if blob == "" {
		return 0
	}
	r := mpReader{b: stringBytes(blob)}
	if r.arrayLen() != 2 {
		return 0
	}
	r.int()
	n := r.arrayLen()
	if r.err != nil {
		return 0
	}
	return n
}

// decodeTaskReply decodes a script's single task snapshot.
func decodeTaskReply(res any) (*archivist.Task, error) { return decodeSnapshot(res) }

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

// entryField is the one field of a stream entry: MessagePack [now (µs),
// [event...]] (see store/lua/lib.lua).
const entryField = "e"

// decodeEntry decodes one stream entry: the events of one script call,
// whose last has the Seq of the entry id. An event that does not decode is
// reported in bad (by Seq) and left out; the others are returned.
func decodeEntry(id string, values map[string]any) (evs []archivist.Event, bad map[uint64]error, err error) {
	last, err := entrySeq(id)
	if err != nil {
		return nil, nil, err
	}
	blob, _ := values[entryField].(string)
	r := mpReader{b: stringBytes(blob)}
	if r.arrayLen() != 2 {
		if r.err == nil {
			r.fail("entry is not [time, events]")
		}
		return nil, nil, fmt.Errorf("stream entry %s: %w", id, r.err)
	}
	at := time.UnixMicro(r.int())
	n := r.arrayLen()
	if r.err != nil || uint64(n) > last {
		return nil, nil, fmt.Errorf("stream entry %s: %v (%d events)", id, r.err, n)
	}
	evs = make([]archivist.Event, 0, n)
	for k := range n {
		seq := last - uint64(n) + 1 + uint64(k)
		ev, err := decodeEvent(&r, seq, at)
		if r.err != nil {
			return evs, bad, fmt.Errorf("stream entry %s: %w", id, r.err)
		}
		if err != nil {
			if bad == nil {
				bad = map[uint64]error{}
			}
			bad[seq] = err
			continue
		}
		evs = append(evs, ev)
	}
	return evs, bad, nil
}

// decodeEvent reads one event of an entry (see lib.lua for the forms).
func decodeEvent(r *mpReader, seq uint64, at time.Time) (archivist.Event, error) {
	ev := archivist.Event{Seq: seq, Time: at}
	n := r.arrayLen()
	if n < 3 {
		if r.err == nil {
			r.fail("event of %d items", n)
		}
		return ev, r.err
	}
	kind := r.str()
	ev.Type, ev.Detail = archivist.EventType(r.str()), r.str()
	rest := n - 3
	skip := func(k int) {
		for range k {
			r.raw()
		}
	}
	switch {
	case kind == "T" && rest >= 4:
		ev.Kind = archivist.EventTask
		id, info, mut, result := r.str(), r.raw(), r.raw(), r.raw()
		skip(rest - 4)
		if r.err != nil {
			return ev, r.err
		}
		t, err := decodeTaskBytes(id, info, mut, result)
		if err != nil {
			return ev, err
		}
		ev.Task = t
	case kind == "N" && rest >= 3:
		ev.Kind = archivist.EventNode
		id, js, dr := r.str(), r.raw(), r.str()
		skip(rest - 3)
		if len(js) == 0 {
			ev.Node = &archivist.Node{ID: id}
			break
		}
		node, err := decodeNode(string(js), dr == "1")
		if err != nil {
			return ev, err
		}
		ev.Node = node
	case kind == "C" && rest >= 2:
		ev.Kind = archivist.EventConfig
		js, version := r.str(), r.str()
		skip(rest - 2)
		c, err := decodeConfig(js, version, strconv.FormatInt(at.UnixMicro(), 10))
		if err != nil {
			return ev, err
		}
		ev.Config = &c
	case kind == "S" && rest >= 3:
		ev.Kind = archivist.EventSchedule
		name, def, state := r.str(), r.raw(), r.raw()
		skip(rest - 3)
		if r.err != nil {
			return ev, r.err
		}
		if len(def) == 0 {
			ev.Schedule = &archivist.Schedule{Name: name}
			break
		}
		s, err := decodeSchedule(name, def, state)
		if err != nil {
			return ev, err
		}
		ev.Schedule = s
	case kind == "W" && rest >= 4:
		ev.Kind = archivist.EventWorkflow
		id, header, state := r.str(), r.raw(), r.raw()
		steps := readWorkflowSteps(r)
		skip(rest - 4)
		if r.err != nil {
			return ev, r.err
		}
		w, err := decodeWorkflow(id, header, state, steps)
		if err != nil {
			return ev, err
		}
		ev.Workflow = w
	default:
		skip(rest)
		return ev, fmt.Errorf("event #%d of unknown kind %q", seq, kind)
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

// entryTime is the time of a stream entry's events (the server's clock when
// its script ran), read from the head of the entry alone.
func entryTime(values map[string]any) (time.Time, bool) {
	blob, _ := values[entryField].(string)
	r := mpReader{b: stringBytes(blob)}
	if r.arrayLen() != 2 {
		return time.Time{}, false
	}
	at := r.int()
	if r.err != nil {
		return time.Time{}, false
	}
	return time.UnixMicro(at), true
}
