// Package chaos runs a cluster of real `archivist serve` processes on a
// real Redis under a random schedule of faults (nodes killed with SIGKILL
// or frozen with SIGSTOP, the leader among them; Redis killed and started
// again on its data) while it submits tasks, and then checks what
// at-least-once promises: every task completed with the result its type
// returns, none lost or stuck, no result of a fenced attempt accepted, one
// leader, every node back ONLINE. cmd/archivist-chaos is its command
// (make chaos); Check is the invariant checker on its own, so that a test
// can feed it a broken history.
package chaos

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/client"
	"github.com/rpg-archivist/archivist/store"
)

// Topologies of Redis.
const (
	TopologyStandalone = "standalone"
	TopologyCluster    = "cluster"
	// TopologyClusterReplicas is a Redis Cluster of three masters with a
	// replica each: Redis faults include failovers.
	TopologyClusterReplicas = "cluster-replicas"
	// TopologySentinel is a master and a replica watched by three
	// sentinels: Redis faults include failovers.
	TopologySentinel = "sentinel"
)

// Options configure a run. Zero values mean the defaults.
type Options struct {
	// Bin is the archivist binary (default bin/archivist).
	Bin string
	// Topology of Redis: standalone (default), cluster (3 masters, no
	// replicas), cluster-replicas (3 masters and 3 replicas, with
	// failovers) or sentinel (a master, a replica and 3 sentinels, with
	// failovers).
	Topology string
	// Nodes in the Archivist cluster (default 3).
	Nodes int
	// Duration of the fault schedule (default 3m).
	Duration time.Duration
	// Seed of the schedule (0: one from the clock, printed).
	Seed uint64
	// Rate of submissions per second (default 8).
	Rate float64
	// Settle bounds the wait for the cluster to finish every task, elect
	// one leader and show every node ONLINE once faults stop (default 2m).
	Settle time.Duration
	// MaxLeaderless, when set, makes a longer time without a live leader
	// a broken invariant (default: only reported).
	MaxLeaderless time.Duration
	// WaitReplicas is the nodes' wait_replicas (see docs/cluster.md's Redis
	// failover section): 0 means 1 for the topologies with replicas
	// (cluster-replicas, sentinel) and none otherwise; below 0 means none.
	WaitReplicas int
	// Dir keeps the logs and Redis data (default a temporary folder,
	// removed after a run without violations).
	Dir string
	// Out receives the timeline and the report (default os.Stdout).
	Out io.Writer
}

// Result is what a run did and found.
type Result struct {
	Seed       uint64
	History    *History
	Figures    Figures
	Violations []Violation
	Dir        string
}

const clusterName = "chaos"

type runner struct {
	o     Options
	out   io.Writer
	rng   *rand.Rand
	start time.Time
	redis *redisSet
	nodes []*nodeProc
	hc    *http.Client

	mu        sync.Mutex
	submitted map[string]Submission
	samples   []LeaderSample
	faults    []Fault
	submitErr int
	outMu     sync.Mutex
}

// waitReplicas is the wait_replicas the nodes' store URL gets (0: none).
func (r *runner) waitReplicas() int {
	switch {
	case r.o.WaitReplicas < 0:
		return 0
	case r.o.WaitReplicas > 0:
		return r.o.WaitReplicas
	case r.o.Topology == TopologyClusterReplicas || r.o.Topology == TopologySentinel:
		return 1
	}
	return 0
}

// Run performs one chaos run. It returns an error when the run could not
// be carried out (Redis or a node would not start); broken invariants are
// in Result.Violations. Every process it started is killed before it
// returns, also when ctx is cancelled.
func Run(ctx context.Context, o Options) (res *Result, err error) {
	o.Bin = cmp.Or(o.Bin, "bin/archivist")
	o.Topology = cmp.Or(o.Topology, TopologyStandalone)
	o.Nodes = cmp.Or(o.Nodes, 3)
	o.Duration = cmp.Or(o.Duration, 3*time.Minute)
	o.Rate = cmp.Or(o.Rate, 8)
	o.Settle = cmp.Or(o.Settle, 2*time.Minute)
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	switch o.Topology {
	case TopologyStandalone, TopologyCluster, TopologyClusterReplicas, TopologySentinel:
	default:
		return nil, fmt.Errorf("unknown topology %q: use standalone, cluster, cluster-replicas or sentinel", o.Topology)
	}
	bin, err := filepath.Abs(o.Bin)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("archivist binary: %w (make build writes bin/archivist)", err)
	}
	o.Bin = bin
	tmp := o.Dir == ""
	if tmp {
		if o.Dir, err = os.MkdirTemp("", "archivist-chaos-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	r := &runner{o: o, out: o.Out, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		submitted: map[string]Submission{}, hc: &http.Client{Timeout: 5 * time.Second}}
	res = &Result{Seed: o.Seed, Dir: o.Dir}
	r.printf("chaos: seed %d, topology %s, %d nodes, %s of faults, %.0f tasks/s; logs in %s\n",
		o.Seed, o.Topology, o.Nodes, o.Duration, o.Rate, o.Dir)
	defer func() {
		r.stopAll()
		if tmp && err == nil && res != nil && len(res.Violations) == 0 {
			_ = os.RemoveAll(o.Dir)
		}
	}()
	h, err := r.run(ctx)
	if err != nil {
		return res, err
	}
	res.History = h
	res.Figures, res.Violations = Check(h)
	r.report(res)
	return res, nil
}

func (r *runner) printf(format string, args ...any) {
	r.outMu.Lock()
	defer r.outMu.Unlock()
	fmt.Fprintf(r.out, format, args...)
}

func (r *runner) since(t time.Time) string {
	return fmt.Sprintf("+%6.1fs", t.Sub(r.start).Seconds())
}

// stopAll kills every process the run started, resuming none: SIGKILL
// ends stopped processes too.
func (r *runner) stopAll() {
	for _, n := range r.nodes {
		n.kill()
	}
	if r.redis != nil {
		r.redis.kill()
	}
}

func (r *runner) run(ctx context.Context) (*History, error) {
	logf, err := os.Create(filepath.Join(r.o.Dir, "nodes.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	nodeLog := &lockedWriter{w: logf}

	r.redis, err = startRedisSet(ctx, r.o.Topology, r.o.Dir)
	if err != nil {
		return nil, err
	}
	url := r.redis.URL()
	if n := r.waitReplicas(); n > 0 {
		url += fmt.Sprintf("?wait_replicas=%d", n)
	}
	for i := range r.o.Nodes {
		id := fmt.Sprintf("n%d", i+1)
		n := &nodeProc{ID: id, bin: r.o.Bin, log: nodeLog,
			args: []string{"--http", "127.0.0.1:0", "--store", url, "--cluster", clusterName, "--node-id", id,
				"--heartbeat-interval", "200ms", "--workers", "4", "--health-interval", "500ms",
				"--cpu-threshold", "0", "--memory-threshold", "0"},
			env: []string{"XDG_DATA_HOME=" + filepath.Join(r.o.Dir, "data-"+id)}}
		r.nodes = append(r.nodes, n)
		if err := n.start(ctx); err != nil {
			return nil, err
		}
	}
	r.start = time.Now()
	if err := r.waitHealthy(ctx, 60*time.Second); err != nil {
		return nil, fmt.Errorf("cluster did not start: %w", err)
	}
	r.printf("%s cluster up: redis %s, nodes %s\n", r.since(time.Now()), url, strings.Join(r.nodeIDs(), ","))

	// Faults, submissions and leadership samples, until the duration ends.
	runCtx, stopRun := context.WithTimeout(ctx, r.o.Duration)
	var wg, subWG sync.WaitGroup
	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer func() { stopSampling(); wg.Wait() }()
	wg.Add(1)
	go func() { defer wg.Done(); r.sampleLoop(sampleCtx) }()
	subWG.Add(1)
	go func() { defer subWG.Done(); r.submitLoop(runCtx) }()
	faultErr := r.faultLoop(runCtx)
	stopRun()
	subWG.Wait()
	if faultErr == nil && ctx.Err() != nil {
		faultErr = ctx.Err()
	}
	if faultErr != nil {
		return nil, faultErr
	}
	r.printf("%s faults stop; %d tasks submitted (%d submissions failed); waiting for the cluster to settle (at most %s)\n",
		r.since(time.Now()), len(r.submitted), r.submitErr, r.o.Settle)

	settleErr := r.waitSettled(ctx, r.o.Settle)
	stopSampling()
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if settleErr != nil {
		r.printf("%s not settled: %v\n", r.since(time.Now()), settleErr)
	} else {
		r.printf("%s settled\n", r.since(time.Now()))
	}
	h := &History{Submitted: r.submitted, Final: map[string]FinalTask{}, Faults: r.faults, Nodes: r.nodeIDs(),
		MaxLeaderless: r.o.MaxLeaderless}
	// The last sample, taken now: after settling (or giving up).
	r.sample(ctx)
	h.Leadership = r.samples

	if h.Events, err = readEvents(ctx, url, time.Now()); err != nil {
		return nil, fmt.Errorf("read the store's events: %w", err)
	}
	if err := r.readFinal(ctx, h); err != nil {
		return nil, fmt.Errorf("read the tasks: %w", err)
	}
	return h, nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (r *runner) nodeIDs() []string {
	ids := make([]string, len(r.nodes))
	for i, n := range r.nodes {
		ids[i] = n.ID
	}
	return ids
}

// clients are clients of the nodes that are up, in random order.
func (r *runner) clients() []*client.Client {
	var cs []*client.Client
	for _, i := range rand.Perm(len(r.nodes)) {
		if a := r.nodes[i].Addr(); a != "" {
			cs = append(cs, client.New(a, client.WithHTTPClient(r.hc)))
		}
	}
	return cs
}

// anyClient is a client of a node that is up, picked at random; nil when
// none is.
func (r *runner) anyClient() *client.Client {
	if cs := r.clients(); len(cs) > 0 {
		return cs[0]
	}
	return nil
}

// sample asks the nodes that are up, one after the other until one
// answers, for nodes { id isLeader status }.
func (r *runner) sample(ctx context.Context) LeaderSample {
	s := LeaderSample{At: time.Now(), Status: map[string]string{}, Err: "no node is up"}
	for _, c := range r.clients() {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		nodes, err := c.Nodes(cctx)
		cancel()
		if err != nil {
			s.Err = err.Error()
			continue
		}
		s.Err = ""
		for _, n := range nodes {
			s.Status[n.ID] = n.Status
			if n.IsLeader {
				s.Leaders = append(s.Leaders, n.ID)
			}
		}
		break
	}
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
	return s
}

func (r *runner) sampleLoop(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.sample(ctx)
		}
	}
}

// leader is the leader the latest good sample saw ("" when none).
func (r *runner) leader() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.samples) - 1; i >= 0; i-- {
		if s := r.samples[i]; s.Err == "" {
			if len(s.Leaders) == 1 {
				return s.Leaders[0]
			}
			return ""
		}
	}
	return ""
}

// submitLoop submits tasks at the configured rate through nodes that are
// up: echo, sleep {"ms": N} and fail {"times": 1}, with retries enough to
// succeed. Its own random source keeps the fault schedule reproducible.
func (r *runner) submitLoop(ctx context.Context) {
	rng := rand.New(rand.NewPCG(r.o.Seed+1, r.o.Seed+2))
	every := time.Duration(float64(time.Second) / r.o.Rate)
	t := time.NewTicker(every)
	defer t.Stop()
	retries := 20
	for k := 0; ; k++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var spec client.TaskSpec
		switch x := rng.IntN(10); {
		case x < 4:
			spec = client.TaskSpec{Type: "echo", Input: json.RawMessage(fmt.Sprintf(`{"k": %d, "word": "w%d"}`, k, rng.IntN(1000)))}
		case x < 8:
			spec = client.TaskSpec{Type: "sleep", Input: json.RawMessage(fmt.Sprintf(`{"ms": %d}`, 50+rng.IntN(1500)))}
		default:
			spec = client.TaskSpec{Type: "fail", Input: json.RawMessage(`{"times": 1}`)}
		}
		spec.MaxRetries = &retries
		spec.Timeout = 10 * time.Second
		spec.Metadata = json.RawMessage(fmt.Sprintf(`{"chaos": %d}`, k))
		c := r.anyClient()
		if c == nil {
			r.mu.Lock()
			r.submitErr++
			r.mu.Unlock()
			continue
		}
		at := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		task, err := c.Submit(cctx, spec)
		cancel()
		r.mu.Lock()
		if err != nil || task == nil {
			r.submitErr++
		} else {
			r.submitted[task.ID] = Submission{ID: task.ID, Type: spec.Type, Input: spec.Input, At: at}
		}
		r.mu.Unlock()
	}
}

// sleepCtx waits d or until ctx ends (false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (r *runner) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.rng.Int64N(int64(hi-lo)+1))
}

// faultLoop injects one fault at a time, each undone before the next,
// until ctx ends; the fault under way when it ends is undone too. An error
// means a process could not be brought back.
func (r *runner) faultLoop(ctx context.Context) error {
	for {
		if !sleepCtx(ctx, r.between(2*time.Second, 6*time.Second)) {
			return nil
		}
		kind := FaultNodeKill
		switch x := r.rng.IntN(100); {
		case x < 35:
		case x < 70:
			kind = FaultNodeStop
		case x < 85 && (r.redis.Topology == TopologyClusterReplicas || r.redis.Topology == TopologySentinel):
			kind = FaultFailover
		default:
			kind = FaultRedisRestart
		}
		var err error
		switch kind {
		case FaultRedisRestart:
			err = r.redisRestart(ctx)
		case FaultFailover:
			err = r.failover(ctx)
		default:
			err = r.nodeFault(ctx, kind)
		}
		if err != nil {
			return err
		}
	}
}

func (r *runner) nodeFault(ctx context.Context, kind string) error {
	// Half the time the leader, when there is one.
	var n *nodeProc
	wantLeader := r.rng.IntN(2) == 0
	pick := r.rng.IntN(len(r.nodes))
	if lead := r.leader(); wantLeader && lead != "" {
		for _, x := range r.nodes {
			if x.ID == lead {
				n = x
			}
		}
	}
	if n == nil {
		n = r.nodes[pick]
	}
	f := Fault{At: time.Now(), Kind: kind, Target: n.ID, Leader: n.ID == r.leader()}
	role := ""
	if f.Leader {
		role = " (leader)"
	}
	// Recovery proceeds even when the run's time is up: never leave a
	// process frozen or dead.
	bg := context.WithoutCancel(ctx)
	switch kind {
	case FaultNodeKill:
		down := r.between(500*time.Millisecond, 4*time.Second)
		n.kill()
		r.printf("%s SIGKILL %s%s, restart in %s\n", r.since(f.At), n.ID, role, down.Round(time.Millisecond))
		sleepCtx(ctx, down)
		if err := n.start(bg); err != nil {
			return err
		}
		f.Until = time.Now()
		r.printf("%s %s restarted on %s\n", r.since(f.Until), n.ID, n.Addr())
	case FaultNodeStop:
		hold := r.between(500*time.Millisecond, 6*time.Second)
		if err := n.signal(syscall.SIGSTOP); err != nil {
			return err
		}
		r.printf("%s SIGSTOP %s%s for %s\n", r.since(f.At), n.ID, role, hold.Round(time.Millisecond))
		sleepCtx(ctx, hold)
		if err := n.signal(syscall.SIGCONT); err != nil {
			return err
		}
		f.Until = time.Now()
		r.printf("%s SIGCONT %s\n", r.since(f.Until), n.ID)
	}
	r.mu.Lock()
	r.faults = append(r.faults, f)
	r.mu.Unlock()
	return nil
}

func (r *runner) redisRestart(ctx context.Context) error {
	srv := r.redis.Servers[r.rng.IntN(len(r.redis.Servers))]
	down := r.between(200*time.Millisecond, 3*time.Second)
	f := Fault{At: time.Now(), Kind: FaultRedisRestart, Target: srv.Addr()}
	srv.kill()
	r.printf("%s SIGKILL redis-server %s, start again in %s\n", r.since(f.At), srv.Addr(), down.Round(time.Millisecond))
	sleepCtx(ctx, down)
	bg := context.WithoutCancel(ctx)
	if r.redis.Topology == TopologySentinel {
		// Back as a replica, unless the sentinels still name it master.
		srv.replicaOf = ""
		if m, err := r.redis.master(bg); err == nil && m != srv {
			srv.replicaOf = m.Addr()
		}
	}
	if err := srv.restart(); err != nil {
		return err
	}
	if err := r.redis.settle(bg); err != nil {
		return err
	}
	f.Until = time.Now()
	r.printf("%s redis-server %s back\n", r.since(f.Until), srv.Addr())
	r.mu.Lock()
	r.faults = append(r.faults, f)
	r.mu.Unlock()
	return nil
}

// failover kills (SIGKILL) the Redis master that holds the cluster's keys
// (of a Redis Cluster, or the sentinels' master), waits (30 s at most)
// until Redis or the sentinels promote its replica,
// leaves the old master down 3 to 10 s more, then starts it again (it
// rejoins as a replica).
func (r *runner) failover(ctx context.Context) error {
	bg := context.WithoutCancel(ctx)
	old, err := r.redis.master(bg)
	if err != nil {
		return fmt.Errorf("failover: find the master: %w", err)
	}
	f := Fault{At: time.Now(), Kind: FaultFailover, Target: old.Addr()}
	old.kill()
	r.printf("%s SIGKILL redis master %s (holds the cluster's keys); waiting for its replica's promotion\n", r.since(f.At), old.Addr())
	deadline := time.Now().Add(30 * time.Second)
	for {
		if nu, err := r.redis.master(bg); err == nil && nu != old {
			old.replicaOf = ""
			if r.redis.Topology == TopologySentinel {
				old.replicaOf = nu.Addr()
			}
			f.Note = "promoted " + nu.Addr()
			r.printf("%s %s promoted after %s\n", r.since(time.Now()), nu.Addr(), time.Since(f.At).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			f.Note = "no promotion within 30s"
			r.printf("%s no replica promoted within 30s\n", r.since(time.Now()))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The old master stays down a while, so that nodes still dialling its
	// address must follow the promotion rather than find it back.
	sleepCtx(ctx, r.between(3*time.Second, 10*time.Second))
	if err := old.restart(); err != nil {
		return err
	}
	if err := r.redis.settle(bg); err != nil {
		return err
	}
	f.Until = time.Now()
	r.printf("%s old master %s back, as a replica\n", r.since(f.Until), old.Addr())
	r.mu.Lock()
	r.faults = append(r.faults, f)
	r.mu.Unlock()
	return nil
}

// waitHealthy waits until one node is leader and every node is ONLINE.
func (r *runner) waitHealthy(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last LeaderSample
	for time.Now().Before(deadline) {
		last = r.sample(ctx)
		if healthy(last, r.nodeIDs()) {
			return nil
		}
		if !sleepCtx(ctx, 200*time.Millisecond) {
			return ctx.Err()
		}
	}
	return fmt.Errorf("after %s: leaders %v, nodes %v %s", d, last.Leaders, last.Status, last.Err)
}

func healthy(s LeaderSample, ids []string) bool {
	if s.Err != "" || len(s.Leaders) != 1 {
		return false
	}
	for _, id := range ids {
		if s.Status[id] != "ONLINE" {
			return false
		}
	}
	return true
}

var unfinished = []string{client.StatusScheduled, client.StatusPending, client.StatusAssigned, client.StatusInProgress, client.StatusRetrying}

// waitSettled waits until no task is unfinished, one node leads and every
// node is ONLINE.
func (r *runner) waitSettled(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	var why string
	for time.Now().Before(deadline) {
		s := r.sample(ctx)
		if c := r.anyClient(); c != nil && healthy(s, r.nodeIDs()) {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			page, err := c.List(cctx, client.Filter{Status: unfinished}, 1, "")
			cancel()
			switch {
			case err != nil:
				why = err.Error()
			case page.TotalCount == 0:
				return nil
			default:
				why = fmt.Sprintf("%d tasks unfinished", page.TotalCount)
			}
		} else {
			why = fmt.Sprintf("leaders %v, nodes %v %s", s.Leaders, s.Status, s.Err)
		}
		if !sleepCtx(ctx, 500*time.Millisecond) {
			return ctx.Err()
		}
	}
	return fmt.Errorf("after %s: %s", d, why)
}

func openStore(ctx context.Context, url string) (*store.Redis, error) {
	st, err := store.OpenRedis(ctx, store.RedisOptions{URL: url, Cluster: clusterName,
		Options: store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
	if err != nil {
		return nil, fmt.Errorf("open the store: %w", err)
	}
	return st, nil
}

// readEvents replays the store's task events from the first one (the
// store is the run's own: every event is of the run) up to the first event
// recorded after until; the nodes' heartbeats, recorded as events a few
// times a second, make sure one comes. 60 s at most.
func readEvents(ctx context.Context, url string, until time.Time) ([]Event, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	st, err := openStore(ctx, url)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	// Subscribe(0) means "new events only": 1 replays all but the first,
	// a node's first heartbeat (no task exists before the nodes start).
	sub, err := st.Subscribe(ctx, 1)
	if err != nil {
		return nil, err
	}
	defer sub.Close()
	var evs []Event
	var seq uint64
	for {
		select {
		case ev, ok := <-sub.C():
			if !ok {
				return nil, fmt.Errorf("subscription ended at seq %d: %v", seq, sub.Err())
			}
			seq = ev.Seq
			if ev.Time.After(until) {
				return evs, nil
			}
			if ev.Kind != archivist.EventTask || ev.Task == nil {
				continue
			}
			evs = append(evs, Event{Seq: ev.Seq, Type: string(ev.Type), Time: ev.Time, TaskID: ev.Task.ID,
				Attempt: ev.Task.Attempt, Node: ev.Task.NodeID, Status: string(ev.Task.Status), Detail: ev.Detail})
		case <-ctx.Done():
			return nil, fmt.Errorf("at seq %d: %w", seq, ctx.Err())
		}
	}
}

// readFinal lists every task through the API.
func (r *runner) readFinal(ctx context.Context, h *History) error {
	c := r.anyClient()
	if c == nil {
		return errors.New("no node is up")
	}
	after := ""
	for range 10_000 {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		page, err := c.List(cctx, client.Filter{}, 500, after)
		cancel()
		if err != nil {
			return err
		}
		for _, t := range page.Tasks {
			h.Final[t.ID] = FinalTask{ID: t.ID, Type: t.Type, Status: t.Status, Input: t.Input, Result: t.Result,
				Error: t.Error, Attempts: t.Attempts}
		}
		if !page.HasNext {
			return nil
		}
		after = page.EndCursor
	}
	return errors.New("too many pages")
}

// report prints the timeline's summary, the figures and the violations.
func (r *runner) report(res *Result) {
	f := res.Figures
	kinds := make([]string, 0, len(f.Faults))
	total := 0
	for k, n := range f.Faults {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	sort.Strings(kinds)
	types := make([]string, 0, len(f.ByType))
	for k, n := range f.ByType {
		types = append(types, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(types)
	r.printf("\nchaos report (seed %d, topology %s)\n", res.Seed, r.o.Topology)
	r.printf("  tasks              %d (%s)\n", f.Tasks, strings.Join(types, ", "))
	r.printf("  attempts           %d; re-runs %d (beyond the first, not planned by fail tasks)\n", f.Attempts, f.Reruns)
	r.printf("  stale reports      %d (results or failures of fenced attempts, rejected)\n", f.StaleReports)
	r.printf("  faults             %d (%s); %d aimed at the leader\n", total, strings.Join(kinds, ", "), f.LeaderFaults)
	r.printf("  longest without a leader        %s\n", f.LongestNoLead.Round(time.Millisecond))
	r.printf("  longest wait to re-run the task of a dead node  %s %s\n", f.LongestRerunWait.Round(time.Millisecond), f.RerunWaitTask)
	if len(res.Violations) == 0 {
		r.printf("  invariants         all hold\n")
		return
	}
	r.printf("  INVARIANTS BROKEN: %d\n", len(res.Violations))
	for _, v := range res.Violations {
		r.printf("    %s\n", v)
	}
	r.printf("  logs and Redis data kept in %s\n", res.Dir)
}
