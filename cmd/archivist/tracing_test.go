package main

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/rpg-archivist/archivist/internal/redistest"
)

// otlpReceiver is an OTLP/HTTP trace receiver, as a collector has one: it
// decodes what the nodes export (protobuf) and keeps the spans, with the
// service.instance.id of the process that sent them.
type otlpReceiver struct {
	srv *httptest.Server

	mu    sync.Mutex
	spans []receivedSpan
	added chan struct{} // a signal per export
}

type receivedSpan struct {
	instance string
	span     *tracepb.Span
}

func (s receivedSpan) attr(key string) string {
	for _, kv := range s.span.Attributes {
		if kv.Key == key {
			v := kv.Value
			if iv, ok := v.GetValue().(*commonpb.AnyValue_IntValue); ok {
				return strconv.FormatInt(iv.IntValue, 10)
			}
			return v.GetStringValue()
		}
	}
	return ""
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{added: make(chan struct{}, 1024)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want POST /v1/traces with application/x-protobuf", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		var msg collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &msg); err != nil {
			t.Errorf("OTLP receiver: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, rs := range msg.ResourceSpans {
			instance := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.instance.id" {
					instance = kv.Value.GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					r.spans = append(r.spans, receivedSpan{instance: instance, span: sp})
				}
			}
		}
		r.mu.Unlock()
		select {
		case r.added <- struct{}{}:
		default:
		}
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// await returns the spans of trace once ok says they are all there, waiting
// for exports (at most timeout).
func (r *otlpReceiver) await(t *testing.T, traceID string, timeout time.Duration, ok func([]receivedSpan) bool) []receivedSpan {
	t.Helper()
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		var got []receivedSpan
		for _, s := range r.spans {
			if hex.EncodeToString(s.span.TraceId) == traceID {
				got = append(got, s)
			}
		}
		r.mu.Unlock()
		if ok(got) {
			return got
		}
		select {
		case <-r.added:
		case <-deadline:
			names := []string{}
			for _, s := range got {
				names = append(names, s.instance+":"+s.span.Name)
			}
			t.Fatalf("spans of trace %s after %s: %v", traceID, timeout, names)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func byName(spans []receivedSpan, prefix string) []receivedSpan {
	var out []receivedSpan
	for _, s := range spans {
		if strings.HasPrefix(s.span.Name, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// TestTracingAcrossNodes: two nodes on Redis export their spans over
// OTLP/HTTP to a receiver (as a collector would get them). A submission
// that carries a W3C traceparent continues that trace: the GraphQL
// operation on the node that took it, the placement on the leader (a
// master) and the attempt on the worker are spans of it, each child of the
// right one, with the task's attributes. A schedule's tick is the root of a
// trace of its own, with its task's placement and attempt under it. A node
// without OTEL_* set exports nothing, and a bad OTEL_TRACES_EXPORTER stops
// the node with a clear error.
func TestTracingAcrossNodes(t *testing.T) {
	t.Parallel()
	rcv := newOTLPReceiver(t)
	env := []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + rcv.srv.URL,
		"OTEL_BSP_SCHEDULE_DELAY=50",
		"OTEL_SERVICE_NAME=archivist-test",
	}
	r := redistest.Start(t)
	master := startNodeEnv(t, env, clusterArgs(r.URL(), "lead", "--role", "master")...)
	worker := startNodeEnv(t, env, clusterArgs(r.URL(), "work", "--role", "worker")...)
	_ = worker

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	const clientSpan = "00f067aa0ba902b7"
	resp, body := master.call(t, http.MethodPost, "/graphql", "",
		`{"query":"mutation Traced($in: SubmitTaskInput!) { submitTask(input: $in) { id } }","variables":{"in":{"type":"echo","input":{"traced":true}}}}`,
		map[string]string{"traceparent": "00-" + traceID + "-" + clientSpan + "-01"})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"id"`) {
		t.Fatalf("submit: %d %s", resp.StatusCode, body)
	}
	var submitted struct {
		Data struct{ SubmitTask struct{ ID string } }
	}
	if err := json.Unmarshal([]byte(body), &submitted); err != nil {
		t.Fatal(err)
	}
	var read struct{ Task struct{ TraceID *string } }
	worker.gql(t, `query($id: ID!) { task(id: $id) { traceId } }`, map[string]any{"id": submitted.Data.SubmitTask.ID}, &read)
	if read.Task.TraceID == nil || *read.Task.TraceID != traceID {
		t.Errorf("task.traceId = %v, want %s (read on the other node)", read.Task.TraceID, traceID)
	}

	spans := rcv.await(t, traceID, 30*time.Second, func(s []receivedSpan) bool {
		return len(byName(s, "graphql mutation Traced")) == 1 && len(byName(s, "place echo")) == 1 && len(byName(s, "run echo")) == 1
	})
	op := byName(spans, "graphql mutation Traced")[0]
	place := byName(spans, "place echo")[0]
	run := byName(spans, "run echo")[0]
	if got := hex.EncodeToString(op.span.ParentSpanId); got != clientSpan {
		t.Errorf("the operation's parent is %s, want the client's span %s", got, clientSpan)
	}
	if op.instance != "lead" || op.span.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("operation span from %q, kind %s", op.instance, op.span.Kind)
	}
	for _, s := range []receivedSpan{place, run} {
		if string(s.span.ParentSpanId) != string(op.span.SpanId) {
			t.Errorf("%s: parent %x, want the operation's span %x", s.span.Name, s.span.ParentSpanId, op.span.SpanId)
		}
	}
	if place.instance != "lead" || place.attr("archivist.node.id") != "work" {
		t.Errorf("placement span from %q, node %q; want from lead, placing on work", place.instance, place.attr("archivist.node.id"))
	}
	if run.instance != "work" || run.attr("archivist.node.id") != "work" || run.attr("archivist.task.outcome") != "completed" ||
		run.attr("archivist.task.type") != "echo" || run.attr("archivist.task.attempt") != "1" || run.attr("archivist.task.id") == "" {
		t.Errorf("run span from %q: node %q outcome %q type %q attempt %q id %q", run.instance, run.attr("archivist.node.id"),
			run.attr("archivist.task.outcome"), run.attr("archivist.task.type"), run.attr("archivist.task.attempt"), run.attr("archivist.task.id"))
	}

	// A schedule's tick starts a trace of its own, with its task's
	// placement and attempt in it.
	master.gql(t, `mutation { createSchedule(input: {name: "reindex", every: "1s", task: {type: "echo", input: {tick: true}}}) { name } }`, nil, nil)
	var tick receivedSpan
	deadline := time.After(30 * time.Second)
	for tick.span == nil {
		rcv.mu.Lock()
		for _, s := range rcv.spans {
			if s.span.Name == "schedule reindex" {
				tick = s
				break
			}
		}
		rcv.mu.Unlock()
		if tick.span == nil {
			select {
			case <-rcv.added:
			case <-deadline:
				t.Fatal("no span of a schedule tick")
			}
		}
	}
	if len(tick.span.ParentSpanId) != 0 || tick.instance != "lead" || tick.attr("archivist.schedule.name") != "reindex" {
		t.Errorf("tick span: parent %x, from %q, schedule %q; want a root span from lead", tick.span.ParentSpanId, tick.instance, tick.attr("archivist.schedule.name"))
	}
	tickTrace := hex.EncodeToString(tick.span.TraceId)
	ticked := rcv.await(t, tickTrace, 30*time.Second, func(s []receivedSpan) bool {
		return len(byName(s, "place echo")) == 1 && len(byName(s, "run echo")) == 1
	})
	for _, s := range append(byName(ticked, "place echo"), byName(ticked, "run echo")...) {
		if string(s.span.ParentSpanId) != string(tick.span.SpanId) {
			t.Errorf("%s of the tick: parent %x, want the tick's span", s.span.Name, s.span.ParentSpanId)
		}
	}
	master.gql(t, `mutation { deleteSchedule(name: "reindex") }`, nil, nil)

	// The worker's attempt durations carry exemplars with trace ids, for a
	// scraper that asks for OpenMetrics.
	mresp, metrics := worker.call(t, http.MethodGet, "/metrics", "", "", map[string]string{"Accept": "application/openmetrics-text; version=1.0.0"})
	exemplar := regexp.MustCompile(`(?m)^archivist_task_duration_seconds_bucket\{[^}]*type="echo"[^}]*\} \d+ # \{[^}]*trace_id="[0-9a-f]{32}"[^}]*\}`)
	if mresp.StatusCode != http.StatusOK || !exemplar.MatchString(metrics) {
		t.Errorf("no exemplar with a trace id on the echo duration buckets (%d):\n%s", mresp.StatusCode, grepLines(metrics, "archivist_task_duration_seconds_bucket"))
	}

	// Without OTEL_*: nothing is exported (the receiver hears from the
	// nodes above only).
	plain := startNode(t, "--node-id", "plain")
	before := func() int { rcv.mu.Lock(); defer rcv.mu.Unlock(); return len(rcv.spans) }()
	var sub struct {
		SubmitTask struct {
			ID      string
			TraceID *string
		}
	}
	plain.gql(t, `mutation { submitTask(input: {type: "echo"}) { id traceId } }`, nil, &sub)
	if sub.SubmitTask.TraceID != nil {
		t.Errorf("a task submitted with tracing off has traceId %q", *sub.SubmitTask.TraceID)
	}
	for _, s := range func() []receivedSpan { rcv.mu.Lock(); defer rcv.mu.Unlock(); return rcv.spans[before:] }() {
		if s.instance == "plain" {
			t.Errorf("a node without OTEL_* exported %s", s.span.Name)
		}
	}

	out, code := runNodeEnv(t, []string{"OTEL_TRACES_EXPORTER=zipkin"}, "--node-id", "bad")
	if code != 2 || !strings.Contains(out, "OTEL_TRACES_EXPORTER=zipkin") || !strings.Contains(out, "otlp") {
		t.Errorf("bad exporter: exit %d, output:\n%s", code, out)
	}
}
