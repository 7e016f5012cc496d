package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist"
)

// Defaults of RedisOptions.
const (
	DefaultRedisCluster      = "default"
	DefaultRedisStreamMaxLen = 100_000
)

// Batch sizes of the Redis store: how much one script or one read handles.
const (
	redisPromoteBatch = 5000 // RETRYING tasks moved to PENDING per ReadyTasks
	redisRecoverBatch = 1000 // expired leases taken back per script
	redisPurgeBatch   = 1000 // finished tasks removed per script
	redisScanChunk    = 1000 // tasks filtered per round trip in ListTasks
)

// RedisOptions configure OpenRedis. Zero values mean the defaults.
type RedisOptions struct {
	// Client is the connection to use: a standalone, Sentinel or Cluster
	// client. Close leaves it open. The store leaves its options and hooks
	// alone: a Cluster client given here reloads its slot map after a
	// failover only as go-redis does (see redis_failover.go), unless the
	// caller set that up.
	Client redis.UniversalClient
	// URL is used when Client is nil: a URL that ParseRedisURL accepts.
	// Close closes the client built from it.
	URL string
	// Addrs is used when Client and URL are empty: one address is a
	// standalone server, several are nodes of a Redis Cluster.
	Addrs []string
	// Cluster names the Archivist cluster: all its keys start with
	// {archivist:<Cluster>}: (default DefaultRedisCluster). Braces are not
	// allowed.
	Cluster string
	// Options are those of every store (clock for ids, logger, event
	// history and subscriber buffer).
	Options Options
	// StreamMaxLen is about how many events the stream keeps (older ones
	// are trimmed by id, XADD MINID ~; default DefaultRedisStreamMaxLen). A
	// subscriber that falls further behind skips the events trimmed
	// meanwhile.
	StreamMaxLen int64
	// QueryBytes bounds the persisted queries the cluster keeps, in bytes
	// (default DefaultRedisQueryBytes); the least recently used go first.
	QueryBytes int64
	// WaitReplicas, when above 0, makes every script that changes state
	// wait, in the same round trip, until that many replicas have its write
	// (Redis's WAIT), for at most WaitTimeout (default
	// DefaultRedisWaitTimeout). A write fewer replicas acknowledged in time
	// fails with UNAVAILABLE, although the master made it: see
	// redis_durable.go. The URL parameters wait_replicas and wait_timeout
	// set them too; these fields, when set, win.
	WaitReplicas int
	WaitTimeout  time.Duration
}

// Redis is the archivist.Store of a cluster: all state in one Redis
// (standalone, Sentinel or Cluster), every transition one Lua script that
// also appends its events to a stream, and one reader per store instance
// that tails the stream into the in-process bus its subscribers share.
// Times come from the Redis server's clock, so that every node agrees.
type Redis struct {
	client    redis.UniversalClient
	ownClient bool
	keys      redisKeys
	maxLen    string
	opts      Options
	// queryBytes is RedisOptions.QueryBytes with its default.
	queryBytes int64
	log        *slog.Logger
	bus        *bus
	// listAllPending is readyListAll, or what a test sets.
	listAllPending int

	// The stream reader, with a client of its own so that Close can end a
	// blocked XREAD at once. It starts with the first subscription: an
	// instance that only writes (a client that submits tasks) reads no
	// events.
	reader        redis.UniversalClient
	ownReader     bool
	readerID      atomic.Int64 // CLIENT ID of the reader's connection
	readerConns   atomic.Int64 // connections the reader made: a new one may face a new master
	readerMu      sync.Mutex
	readerStarted bool
	// readNow asks the reader to read at once, not at its pace
	// (redisReadEvery): a call's own events wait for ones before them.
	readNow    chan struct{}
	stopReader context.CancelFunc
	readerDone chan struct{}
	// seen is the largest event Seq this instance knows of: from LastSeq
	// and from its own writes.
	seen      atomic.Uint64
	reports   reporter
	creates   creator
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
	// settingsSeen caches the settings JSON of each node as the last
	// heartbeat found it (redis_nodesettings.go).
	settingsSeen sync.Map
	// reach follows whether Redis answers (redis_unavailable.go).
	reach reachability
	// durability is how many replicas each write waits for
	// (redis_durable.go).
	durability redisDurability
}

var (
	_ archivist.Store       = (*Redis)(nil)
	_ archivist.RoundReader = (*Redis)(nil)
)

var errRedisClosed = archivist.Errorf(archivist.CodeUnavailable, "the store is closed")

// OpenRedis connects to Redis, checks that it answers and loads the
// scripts. The event reader starts with the first Subscribe.
func OpenRedis(ctx context.Context, o RedisOptions) (*Redis, error) {
	opts := o.Options.withDefaults()
	keys, err := newRedisKeys(cmp.Or(o.Cluster, DefaultRedisCluster))
	if err != nil {
		return nil, err
	}
	maxLen := o.StreamMaxLen
	if maxLen <= 0 {
		maxLen = DefaultRedisStreamMaxLen
	}
	client, own := o.Client, false
	where := "the given client"
	var uo *redis.UniversalOptions
	var dur redisDurability
	if client == nil && o.URL != "" {
		var err error
		if uo, dur, err = parseRedisURL(o.URL); err != nil {
			return nil, err
		}
	}
	if dur, err = dur.with(o.WaitReplicas, o.WaitTimeout); err != nil {
		return nil, err
	}
	if client == nil {
		switch {
		case o.URL != "":
			tuneFailover(uo)
			dur.fitReadTimeout(uo)
			client, own, where = redis.NewUniversalClient(uo), true, redactURL(o.URL)
		case len(o.Addrs) > 0:
			uo = &redis.UniversalOptions{Addrs: o.Addrs}
			tuneFailover(uo)
			dur.fitReadTimeout(uo)
			client, own, where = redis.NewUniversalClient(uo), true, strings.Join(o.Addrs, ",")
		default:
			return nil, fmt.Errorf("redis store: RedisOptions needs a Client, a URL or Addrs")
		}
		watchFailover(client) // redis_failover.go
	} else if err := dur.checkClient(client); err != nil {
		return nil, err
	}
	r := &Redis{client: client, ownClient: own, keys: keys, maxLen: strconv.FormatInt(maxLen, 10),
		queryBytes: cmp.Or(max(o.QueryBytes, 0), DefaultRedisQueryBytes), opts: opts, log: opts.Logger, bus: newBus(opts.EventHistory, opts.SubscriberBuffer), durability: dur,
		readNow: make(chan struct{}, 1)}
	r.reports.init(r)
	r.creates.init(r)
	r.reach.name, r.reach.log = redisName(uo, client), opts.Logger
	SetRedisLogger(opts.Logger) // go-redis's own lines: debug, not stderr
	client.AddHook(reachHook{r})
	fail := func(what string, err error) (*Redis, error) {
		if own {
			_ = client.Close()
		}
		return nil, fmt.Errorf("redis store at %s: %s: %w", where, what, err)
	}
	if err := client.Ping(ctx).Err(); err != nil {
		return fail("ping", err)
	}
	if err := luaScripts.load(ctx, client); err != nil {
		return fail("load the functions library", err)
	}
	// The reader's first command also warms its client up (a Cluster
	// client loads the command table), before anything may close it.
	r.reader, r.ownReader = r.readerClient(client)
	last, err := r.reader.Get(ctx, keys.key(redisKeyEventSeq)).Uint64()
	if err != nil && !errors.Is(err, redis.Nil) {
		if r.ownReader {
			_ = r.reader.Close()
		}
		return fail("read the event sequence", err)
	}
	r.saw(last)
	r.bus.setLast(last)
	r.reach.armed.Store(true)
	return r, nil
}

// startReader starts the event reader, if it is not running yet, from
// where the instance's view of the stream stood when it opened (as if it
// had read all along).
func (r *Redis) startReader() error {
	r.readerMu.Lock()
	defer r.readerMu.Unlock()
	if r.readerStarted {
		return nil
	}
	if r.closed.Load() {
		return errRedisClosed
	}
	readCtx, cancel := context.WithCancel(context.Background())
	r.stopReader, r.readerDone = cancel, make(chan struct{})
	r.readerStarted = true
	go r.readLoop(readCtx, r.bus.lastSeq())
	return nil
}

// readerClient returns a client of its own for the stream reader when it
// can make one with client's options (one connection per server), else
// client itself. Its connections report their CLIENT ID, so that Close can
// end a blocked XREAD with CLIENT UNBLOCK.
func (r *Redis) readerClient(client redis.UniversalClient) (redis.UniversalClient, bool) {
	hook := func(orig func(context.Context, *redis.Conn) error) func(context.Context, *redis.Conn) error {
		return func(ctx context.Context, cn *redis.Conn) error {
			if orig != nil {
				if err := orig(ctx, cn); err != nil {
					return err
				}
			}
			// Every new connection counts, even one whose CLIENT ID fails
			// (a server that refused it for now): the reader checks the
			// stream after any of them (readLoop).
			r.readerConns.Add(1)
			if id, err := cn.ClientID(ctx).Result(); err == nil {
				r.readerID.Store(id)
			}
			return nil
		}
	}
	switch c := client.(type) {
	case *redis.Client:
		o := *c.Options()
		o.PoolSize, o.MinIdleConns, o.MaxIdleConns = 1, 0, 1
		o.OnConnect = hook(o.OnConnect)
		o.ContextTimeoutEnabled = true // bounds a read from a server gone silent (readLoop)
		rc := redis.NewClient(&o)
		rc.AddHook(reachHook{r})
		return rc, true
	case *redis.ClusterClient:
		o := *c.Options()
		o.PoolSize, o.MinIdleConns, o.MaxIdleConns = 1, 0, 1
		o.OnConnect = hook(o.OnConnect)
		o.ContextTimeoutEnabled = true
		rc := redis.NewClusterClient(&o)
		rc.AddHook(reachHook{r})
		watchFailover(rc)
		return rc, true
	}
	return client, false
}

// Close stops the event reader, ends every subscription and, if OpenRedis
// made the client, closes it. Later calls of any method fail.
func (r *Redis) Close() error {
	r.closeOnce.Do(func() {
		r.readerMu.Lock()
		r.closed.Store(true)
		started := r.readerStarted
		r.readerMu.Unlock()
		if started {
			r.stopReader()
			r.unblockReader()
		}
		if r.ownReader {
			if started {
				select {
				case <-r.readerDone:
				case <-time.After(200 * time.Millisecond):
					// Not unblocked (it was between two reads): closing
					// its connection ends the read.
				}
			}
			_ = r.reader.Close()
		}
		if started {
			<-r.readerDone
		}
		r.bus.close()
		if r.ownClient {
			r.closeErr = r.client.Close()
		}
	})
	return r.closeErr
}

// unblockReader ends the reader's blocked XREAD at once (it returns as if
// its time ran out), on the server that holds the stream.
func (r *Redis) unblockReader() {
	id := r.readerID.Load()
	if id == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var c redis.Cmdable = r.client
	if cc, ok := r.client.(*redis.ClusterClient); ok {
		node, err := cc.MasterForKey(ctx, r.keys.key(redisKeyEvents))
		if err != nil {
			return
		}
		c = node
	}
	_ = c.ClientUnblock(ctx, id).Err()
}

// Cluster is the name the store's keys are under.
func (r *Redis) Cluster() string {
	return strings.TrimSuffix(strings.TrimPrefix(r.keys.prefix, "{archivist:"), "}:")
}

// Client is the go-redis client the store uses.
func (r *Redis) Client() redis.UniversalClient { return r.client }

// eval runs one script with the fixed KEYS and ARGV prefix, max length,
// args...
func (r *Redis) eval(ctx context.Context, op string, s *redisFunc, args ...any) (any, error) {
	res, _, err := r.evalSeq(ctx, op, s, args...)
	return res, err
}

// evalSeq is eval that also returns the Seq of the script's last event (0:
// none).
func (r *Redis) evalSeq(ctx context.Context, op string, s *redisFunc, args ...any) (any, uint64, error) {
	if r.closed.Load() {
		return nil, 0, errRedisClosed
	}
	argv := make([]any, 0, 2+len(args))
	argv = append(argv, r.keys.prefix, r.maxLen)
	argv = append(argv, args...)
	if r.durability.replicas > 0 && !readOnlyScripts[s] {
		return r.evalDurable(ctx, op, s, argv) // redis_durable.go
	}
	res, err := r.client.FCall(ctx, s.name, r.keys.fixed, argv...).Result()
	if isFunctionMissing(err) {
		// The server lost the library (restarted without persistence, or
		// a new Cluster master): nothing was written; load it and call again.
		if err = luaScripts.load(ctx, r.client); err == nil {
			res, err = r.client.FCall(ctx, s.name, r.keys.fixed, argv...).Result()
		}
	}
	if err != nil {
		return nil, 0, r.mapErr(op, err)
	}
	return r.scriptReply(op, res)
}

// scriptReply splits a script's reply {Seq of its last event, result}.
func (r *Redis) scriptReply(op string, res any) (any, uint64, error) {
	rep, ok := res.([]any)
	if !ok || len(rep) != 2 {
		return nil, 0, fmt.Errorf("redis store: %s: unexpected script reply %v", op, res)
	}
	var seq uint64
	if s, _ := rep[0].(string); s != "0" {
		var err error
		if seq, err = strconv.ParseUint(s, 10, 64); err != nil {
			return nil, 0, fmt.Errorf("redis store: %s: event seq %q: %w", op, s, err)
		}
		r.saw(seq)
	}
	return rep[1], seq, nil
}

// evalEvents runs a script that replies with its events ({packed events,
// ...}: see EVENTS_REPLY in lib.lua) and returns them, with the rest of its
// reply. When this instance's subscribers have every event before them,
// they get them at once (echo), rather than when the reader reads them
// back from the stream: a leader that places tasks on its own node, or a
// worker that reports to its own leader, saves a round trip.
func (r *Redis) evalEvents(ctx context.Context, op string, s *redisFunc, args ...any) ([]archivist.Event, []any, error) {
	res, last, err := r.evalSeq(ctx, op, s, args...)
	if err != nil {
		return nil, nil, err
	}
	rep, _ := res.([]any)
	if len(rep) == 0 {
		return nil, nil, fmt.Errorf("redis store: %s: unexpected script reply %v", op, res)
	}
	blob, _ := rep[0].(string)
	evs, err := decodeEvents(blob, last)
	if err != nil {
		return nil, nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	if r.readerRunning() && !r.bus.publishNext(evs) && len(evs) > 0 && evs[0].Seq > r.bus.lastSeq()+1 {
		// Events before these are still to be read: read them now.
		select {
		case r.readNow <- struct{}{}:
		default:
		}
	}
	return evs, rep[1:], nil
}

// readerRunning reports whether the reader was started: then the bus
// takes the events this instance's own calls return (echo).
func (r *Redis) readerRunning() bool {
	r.readerMu.Lock()
	defer r.readerMu.Unlock()
	return r.readerStarted
}

// eventTasks are the tasks of evs' task events, in order.
func eventTasks(evs []archivist.Event) []*archivist.Task {
	out := make([]*archivist.Task, 0, len(evs))
	for _, ev := range evs {
		if ev.Task != nil {
			out = append(out, ev.Task)
		}
	}
	return out
}

// saw notes that events up to seq exist: Subscribe(0) starts after them.
func (r *Redis) saw(seq uint64) {
	for {
		cur := r.seen.Load()
		if seq <= cur || r.seen.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// mapErr turns a script's "<CODE> message" reply into an *archivist.Error;
// anything else (connection, server) is an internal error with its cause.
func (r *Redis) mapErr(op string, err error) error {
	var rerr redis.Error
	if errors.As(err, &rerr) && !errors.Is(err, redis.Nil) {
		code, msg, _ := strings.Cut(rerr.Error(), " ")
		switch c := archivist.ErrorCode(code); c {
		case archivist.CodeConflict, archivist.CodeNotFound, archivist.CodeBadUserInput:
			return archivist.Errorf(c, "%s", msg)
		}
	}
	return fmt.Errorf("redis store: %s: %w", op, err)
}

func (r *Redis) evalTask(ctx context.Context, op string, s *redisFunc, args ...any) (*archivist.Task, error) {
	res, err := r.eval(ctx, op, s, args...)
	if err != nil {
		return nil, err
	}
	t, err := decodeTaskReply(res)
	if err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	return t, nil
}

func (r *Redis) evalTasks(ctx context.Context, op string, s *redisFunc, args ...any) ([]*archivist.Task, error) {
	res, err := r.eval(ctx, op, s, args...)
	if err != nil {
		return nil, err
	}
	ts, err := decodeTaskList(res)
	if err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	return ts, nil
}

// read checks that the store is open before a read.
func (r *Redis) read() error {
	if r.closed.Load() {
		return errRedisClosed
	}
	return nil
}

func leaseArgs(l archivist.Lease) (string, string) {
	return l.Holder, strconv.FormatInt(l.Token, 10)
}

func retryArgs(p archivist.RetryPolicy) []any {
	return []any{formatBool(p.Disabled), int64(p.Base), int64(p.Max), strconv.FormatFloat(rand.Float64(), 'g', -1, 64)}
}

func replyStrings(res any, n int) ([]string, error) {
	list, ok := res.([]any)
	if !ok || len(list) < n {
		return nil, fmt.Errorf("unexpected script reply %v", res)
	}
	out := make([]string, len(list))
	for i, v := range list {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("unexpected script reply item %T", v)
		}
		out[i] = s
	}
	return out, nil
}

// --- tasks ---

// CreateTasks stores the tasks in one script (create.lua): delays are
// added to the server's clock, unique keys checked and taken there.
func (r *Redis) CreateTasks(ctx context.Context, tasks []*archivist.Task) error {
	if len(tasks) == 0 {
		return nil
	}
	if r.closed.Load() {
		return errRedisClosed
	}
	now := r.opts.Now()
	ids := make([]string, len(tasks))
	args := make([]any, 0, createArgs*len(tasks))
	size := 0
	for i, t := range tasks {
		ids[i] = t.ID
		if ids[i] == "" {
			ids[i] = archivist.NewID(now)
		}
		args = appendCreateArgs(args, ids[i], t)
		size += len(t.Input) + len(t.Metadata) + len(t.Type)
	}
	if len(tasks) >= createBatch || size >= createBatchBytes {
		return r.createNow(ctx, tasks, ids, args) // a batch of its own
	}
	return r.creates.do(&createReq{ctx: ctx, tasks: tasks, ids: ids, args: args, size: size})
}

// createArgs is how many ARGV create.lua takes per task.
const createArgs = 13

// appendCreateArgs appends the ARGV of one task of create.lua (and of
// create_args in lib.lua) to args.
func appendCreateArgs(args []any, id string, t *archivist.Task) []any {
	var runAt int64
	if !t.RunAt.IsZero() {
		runAt = max(1, t.RunAt.UnixMicro())
	}
	onDup := ""
	if t.OnDuplicate == archivist.DuplicateReplace {
		onDup = "R"
	}
	return append(args, id, encodeTaskInfo(t), string(t.Priority), int64(t.Timeout), t.MaxRetries,
		int64(t.RetryBackoff), int64(t.MaxBackoff), runAt, t.Delay.Microseconds(), t.UniqueKey, int64(t.UniqueFor), onDup, t.Group)
}

// fillCreated fills tasks (with ids) from create.lua's reply: the created
// ones get their Seq, status, times and Turn; a duplicate becomes its
// holder.
func fillCreated(tasks []*archivist.Task, ids []string, res any) error {
	list, ok := res.([]any)
	if !ok || len(list) != 4 {
		return fmt.Errorf("unexpected script reply %v", res)
	}
	head, err := replyStrings(list[:2], 2)
	if err != nil {
		return err
	}
	created, err := replyStrings(list[2], 0)
	if err != nil {
		return err
	}
	dups, _ := list[3].([]any)
	at, err1 := parseMicros(head[0])
	base, err2 := strconv.ParseUint(head[1], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	dup := make(map[int]*archivist.Task, len(dups))
	for _, d := range dups {
		pair, ok := d.([]any)
		if !ok || len(pair) != 2 {
			return fmt.Errorf("unexpected duplicate in reply %v", d)
		}
		pos, _ := pair[0].(string)
		k, err := strconv.Atoi(pos)
		if err != nil || k < 1 || k > len(tasks) {
			return fmt.Errorf("unexpected duplicate position %v", pair[0])
		}
		holder, err := decodeTaskReply(pair[1])
		if err != nil {
			return err
		}
		dup[k-1] = holder
	}
	next := 0
	for i, t := range tasks {
		if h := dup[i]; h != nil {
			*t = *h
			t.Duplicate = true
			continue
		}
		if 3*next+2 >= len(created) {
			return fmt.Errorf("reply lists %d created tasks, fewer than submitted", len(created)/3)
		}
		status, runAt := archivist.TaskStatus(created[3*next]), created[3*next+1]
		if t.Turn, err = strconv.ParseUint(created[3*next+2], 10, 64); err != nil {
			return err
		}
		t.ID, t.Seq, t.Status = ids[i], base+uint64(next)+1, status
		t.CreatedAt, t.UpdatedAt = at, at
		t.RunAt = time.Time{}
		if runAt != "0" {
			if t.RunAt, err = parseMicros(runAt); err != nil {
				return err
			}
		}
		t.Delay, t.OnDuplicate = 0, ""
		next++
	}
	return nil
}

// GetTask reads one task hash.
func (r *Redis) GetTask(ctx context.Context, id string) (*archivist.Task, error) {
	if err := r.read(); err != nil {
		return nil, err
	}
	m, err := r.client.HGetAll(ctx, r.keys.task(id)).Result()
	if err != nil {
		return nil, r.mapErr("get task", err)
	}
	t, err := decodeTaskMap(id, m)
	if err != nil {
		return nil, fmt.Errorf("redis store: get task %s: %w", id, err)
	}
	if t == nil {
		return nil, notFound("task", id)
	}
	return t, nil
}

// ListTasks pages through the tasks newest first. Without filters it reads
// one page. PENDING tasks (of any or one priority) are paged from the ready
// index and counted from the counters, SCHEDULED and WAITING ones from
// their index by Seq; the ASSIGNED or IN_PROGRESS tasks of one node are found among its
// assigned ones and every running one, a workflow's through its steps;
// other filters scan every task in chunks, reading the fields to filter
// on, and then the page's tasks.
//
// Whatever the path, the tasks listed are those archivist.TaskFilter.Matches
// selects, filtered here in Go (no Lua script filters tasks): the scan and
// the held tasks of a node and the steps of a workflow call it, and the
// ready, scheduled:seq and waiting indexes, which hold exactly the
// PENDING, SCHEDULED and WAITING tasks, stand for it where they are used.
// The conformance suite (storetest, ListTasks/MatchesFilter) checks the
// two agree.
func (r *Redis) ListTasks(ctx context.Context, q archivist.TaskQuery) (*archivist.TaskPage, error) {
	if err := r.read(); err != nil {
		return nil, err
	}
	first, after, err := pageArgs(q.First, q.After)
	if err != nil {
		return nil, err
	}
	maxScore := "+inf"
	if after != 0 {
		maxScore = "(" + strconv.FormatUint(after, 10)
	}
	page := &archivist.TaskPage{}
	var ids []string
	switch {
	case len(q.Status) == 0 && q.StatusOnly():
		pipe := r.client.Pipeline()
		card := pipe.ZCard(ctx, r.keys.key(redisKeyAll))
		rng := pipe.ZRevRangeByScore(ctx, r.keys.key(redisKeyAll), &redis.ZRangeBy{Max: maxScore, Min: "-inf", Count: int64(first) + 1})
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, r.mapErr("list tasks", err)
		}
		page.TotalCount = int(card.Val())
		ids = rng.Val()
		if len(ids) > first {
			ids, page.HasNext = ids[:first], true
		}
	case onlyStatuses(q.Status, archivist.TaskPending) && q.Type == "" && q.NodeID == "" && q.Search == "" &&
		q.Schedule == "" && q.WorkflowID == "" && q.Group == "" &&
		(q.Priority == "" || q.Priority.Valid()):
		ids, err = r.listPending(ctx, q.Priority, after, first, page)
	case onlyStatuses(q.Status, archivist.TaskScheduled) && q.StatusOnly():
		ids, err = r.listBySeq(ctx, redisKeyScheduledSeq, after, first, page)
	case onlyStatuses(q.Status, archivist.TaskWaiting) && q.StatusOnly():
		ids, err = r.listBySeq(ctx, redisKeyWaiting, after, first, page)
	case q.NodeID != "" && onlyStatuses(q.Status, archivist.TaskAssigned, archivist.TaskInProgress):
		ids, err = r.listHeld(ctx, q, after, first, page)
	case q.WorkflowID != "":
		ids, err = r.listSteps(ctx, q, after, first, page)
	default:
		ids, err = r.scanTasks(ctx, q, after, first, page)
	}
	if err != nil {
		return nil, err
	}
	tasks, err := r.getTasks(ctx, ids)
	if err != nil {
		return nil, err
	}
	page.Tasks = tasks
	if n := len(tasks); n > 0 {
		page.EndCursor = strconv.FormatUint(tasks[n-1].Seq, 10)
	}
	return page, nil
}

// onlyStatuses reports whether every status of list is one of want.
func onlyStatuses(list []archivist.TaskStatus, want ...archivist.TaskStatus) bool {
	if len(list) == 0 {
		return false
	}
	for _, s := range list {
		if !slices.Contains(want, s) {
			return false
		}
	}
	return true
}

// listBySeq pages the tasks of one status newest first from their index by
// Seq (scheduled:seq, waiting), and counts them, without looking at other
// tasks.
func (r *Redis) listBySeq(ctx context.Context, index int, after uint64, first int, page *archivist.TaskPage) ([]string, error) {
	key := r.keys.key(index)
	max := "+inf"
	if after != 0 {
		max = "(" + strconv.FormatUint(after, 10)
	}
	pipe := r.client.Pipeline()
	total := pipe.ZCard(ctx, key)
	rng := pipe.ZRevRangeByScore(ctx, key, &redis.ZRangeBy{Max: max, Min: "-inf", Count: int64(first) + 1})
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, r.mapErr("list tasks", err)
	}
	page.TotalCount = int(total.Val())
	ids := rng.Val()
	if len(ids) > first {
		ids, page.HasNext = ids[:first], true
	}
	return ids, nil
}

// readyRankSpan is the score span of one priority in the ready index (see
// lib.lua: (3-rank)*2^50 + Turn).
const readyRankSpan = 1 << 50

// readyListAll is how many PENDING tasks listPending sorts by Seq at once;
// beyond it, it finds them among all tasks, newest first.
const readyListAll = 5000

// listPending pages the PENDING tasks (of priority prio, or of all) newest
// first. The ready index orders them by Turn, not Seq: when they are few,
// all of them are read with their Seqs (from all) and sorted; when they
// are many, all is walked newest first, keeping the tasks the ready index
// holds (at priority prio), until the page is full.
func (r *Redis) listPending(ctx context.Context, prio archivist.Priority, after uint64, first int, page *archivist.TaskPage) ([]string, error) {
	// The PENDING tasks are the ready ones and the ones limits or pauses
	// hold back, in two sets with the same scores (lua/limit_lib.lua).
	sets := []string{r.keys.key(redisKeyReady), r.keys.prefix + "limits:heldall"}
	lo, hi := "-inf", "+inf"
	if prio != "" {
		band := uint64(3-prio.Rank()) * readyRankSpan
		lo, hi = strconv.FormatUint(band, 10), "("+strconv.FormatUint(band+readyRankSpan, 10)
	}
	pipe := r.client.Pipeline()
	counts := make([]*redis.IntCmd, len(sets))
	for i, key := range sets {
		counts[i] = pipe.ZCount(ctx, key, lo, hi)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, r.mapErr("list tasks", err)
	}
	var n int64
	for _, c := range counts {
		n += c.Val()
	}
	page.TotalCount = int(n)
	if n == 0 {
		return nil, nil
	}
	inBand := func(score float64) bool {
		if prio == "" {
			return true
		}
		return uint64(score)/readyRankSpan == uint64(3-prio.Rank())
	}
	type entry struct {
		seq uint64
		id  string
	}
	var found []entry
	if n <= int64(cmp.Or(r.listAllPending, readyListAll)) {
		var members []string
		for _, key := range sets {
			m, err := r.client.ZRangeByScore(ctx, key, &redis.ZRangeBy{Min: lo, Max: hi}).Result()
			if err != nil {
				return nil, r.mapErr("list tasks", err)
			}
			members = append(members, m...)
		}
		if len(members) == 0 {
			return nil, nil
		}
		seqs, err := r.client.ZMScore(ctx, r.keys.key(redisKeyAll), members...).Result()
		if err != nil {
			return nil, r.mapErr("list tasks", err)
		}
		for i, id := range members {
			if seq := uint64(seqs[i]); seq != 0 && (after == 0 || seq < after) {
				found = append(found, entry{seq, id})
			}
		}
		sort.Slice(found, func(i, j int) bool { return found[i].seq > found[j].seq })
	} else {
		cursor := "+inf"
		if after != 0 {
			cursor = "(" + strconv.FormatUint(after, 10)
		}
		for len(found) <= first {
			chunk, err := r.client.ZRevRangeByScoreWithScores(ctx, r.keys.key(redisKeyAll),
				&redis.ZRangeBy{Max: cursor, Min: "-inf", Count: redisScanChunk}).Result()
			if err != nil {
				return nil, r.mapErr("list tasks", err)
			}
			if len(chunk) == 0 {
				break
			}
			members := make([]string, len(chunk))
			for i, z := range chunk {
				members[i] = z.Member.(string)
			}
			pipe := r.client.Pipeline()
			scores := make([]*redis.FloatSliceCmd, len(sets))
			for i, key := range sets {
				scores[i] = pipe.ZMScore(ctx, key, members...)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return nil, r.mapErr("list tasks", err)
			}
			for i, z := range chunk {
				// ZMSCORE answers 0 for a member it lacks (go-redis reads nil
				// as 0); no ready score is 0, since Turns start at 1.
				for _, sc := range scores {
					if v := sc.Val()[i]; v != 0 && inBand(v) {
						found = append(found, entry{uint64(z.Score), members[i]})
						break
					}
				}
			}
			cursor = "(" + strconv.FormatUint(uint64(chunk[len(chunk)-1].Score), 10)
		}
	}
	if len(found) > first {
		found, page.HasNext = found[:first], true
	}
	ids := make([]string, len(found))
	for i, e := range found {
		ids[i] = e.id
	}
	return ids, nil
}

// listHeld pages the ASSIGNED and IN_PROGRESS tasks of q.NodeID: its
// assigned ZSET and the running tasks (leased) hold them all, a set as
// small as the cluster's workers.
func (r *Redis) listHeld(ctx context.Context, q archivist.TaskQuery, after uint64, first int, page *archivist.TaskPage) ([]string, error) {
	pipe := r.client.Pipeline()
	var assigned, running *redis.StringSliceCmd
	if slices.Contains(q.Status, archivist.TaskAssigned) {
		assigned = pipe.ZRange(ctx, r.keys.prefix+"assigned:"+q.NodeID, 0, -1)
	}
	if slices.Contains(q.Status, archivist.TaskInProgress) {
		running = pipe.ZRange(ctx, r.keys.key(redisKeyLeased), 0, -1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, r.mapErr("list tasks", err)
	}
	var ids []string
	for _, c := range []*redis.StringSliceCmd{assigned, running} {
		if c != nil {
			ids = append(ids, c.Val()...)
		}
	}
	return r.pageAmong(ctx, q, ids, after, first, page)
}

// listSteps pages the tasks of the steps of workflow q.WorkflowID (at most
// archivist.MaxWorkflowSteps), found through the workflow's record.
func (r *Redis) listSteps(ctx context.Context, q archivist.TaskQuery, after uint64, first int, page *archivist.TaskPage) ([]string, error) {
	m, err := r.client.HGetAll(ctx, r.keys.workflow(q.WorkflowID)).Result()
	if err != nil {
		return nil, r.mapErr("list tasks", err)
	}
	w, err := decodeWorkflowMap(q.WorkflowID, m)
	if err != nil || w == nil {
		return nil, err // no such workflow: no task
	}
	ids := make([]string, len(w.Steps))
	for i, s := range w.Steps {
		ids[i] = s.TaskID
	}
	return r.pageAmong(ctx, q, ids, after, first, page)
}

// pageAmong reads the tasks ids (in chunks), counts those q selects into
// page and returns the ids of the page's, newest first.
func (r *Redis) pageAmong(ctx context.Context, q archivist.TaskQuery, ids []string, after uint64, first int, page *archivist.TaskPage) ([]string, error) {
	var found []*archivist.Task
	for start := 0; start < len(ids); start += redisScanChunk {
		chunk := ids[start:min(start+redisScanChunk, len(ids))]
		pipe := r.client.Pipeline()
		cmds := make([]*redis.SliceCmd, len(chunk))
		for i, id := range chunk {
			cmds[i] = pipe.HMGet(ctx, r.keys.task(id), fInfo, fMut)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, r.mapErr("list tasks", err)
		}
		for i, id := range chunk {
			t, err := decodeFields(id, cmds[i].Val())
			if err != nil {
				return nil, fmt.Errorf("redis store: list tasks: %w", err)
			}
			if t != nil && q.Matches(t) {
				found = append(found, t)
			}
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Seq > found[j].Seq })
	page.TotalCount = len(found)
	var out []string
	for _, t := range found {
		if after != 0 && t.Seq >= after {
			continue
		}
		if len(out) == first {
			page.HasNext = true
			break
		}
		out = append(out, t.ID)
	}
	return out, nil
}

// decodeFields decodes HMGET i m of task id; nil when it is gone.
func decodeFields(id string, v []any) (*archivist.Task, error) {
	if len(v) != 2 || v[1] == nil {
		return nil, nil
	}
	info, _ := v[0].(string)
	mut, _ := v[1].(string)
	return decodeTask(id, info, mut, "")
}

// scanTasks walks all tasks newest first, counts those matching q into
// page.TotalCount and page.HasNext, and returns the ids of the page's
// tasks.
func (r *Redis) scanTasks(ctx context.Context, q archivist.TaskQuery, after uint64, first int, page *archivist.TaskPage) ([]string, error) {
	index := r.keys.key(redisKeyAll)
	var out []string
	cursor := "+inf"
	if q.SkipTotal && after != 0 {
		cursor = "(" + strconv.FormatUint(after, 10) // nothing newer to count
	}
	for {
		chunk, err := r.client.ZRevRangeByScoreWithScores(ctx, index,
			&redis.ZRangeBy{Max: cursor, Min: "-inf", Count: redisScanChunk}).Result()
		if err != nil {
			return nil, r.mapErr("list tasks", err)
		}
		if len(chunk) == 0 {
			return out, nil
		}
		pipe := r.client.Pipeline()
		cmds := make([]*redis.SliceCmd, len(chunk))
		for i, z := range chunk {
			cmds[i] = pipe.HMGet(ctx, r.keys.task(z.Member.(string)), fInfo, fMut)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, r.mapErr("list tasks", err)
		}
		for i, z := range chunk {
			id := z.Member.(string)
			t, err := decodeFields(id, cmds[i].Val())
			if err != nil {
				return nil, fmt.Errorf("redis store: list tasks: %w", err)
			}
			if t == nil || !q.Matches(t) {
				continue // purged meanwhile, or no match
			}
			page.TotalCount++
			if after != 0 && uint64(z.Score) >= after {
				continue
			}
			if len(out) < first {
				out = append(out, id)
			} else {
				page.HasNext = true
				if q.SkipTotal {
					page.TotalCount = 0
					return out, nil
				}
			}
		}
		if len(chunk) < redisScanChunk {
			return out, nil
		}
		cursor = "(" + strconv.FormatFloat(chunk[len(chunk)-1].Score, 'f', -1, 64)
	}
}

// getTasks reads tasks in one pipeline, skipping those gone meanwhile.
func (r *Redis) getTasks(ctx context.Context, ids []string) ([]*archivist.Task, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := r.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, r.keys.task(id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, r.mapErr("read tasks", err)
	}
	out := make([]*archivist.Task, 0, len(ids))
	for i, c := range cmds {
		t, err := decodeTaskMap(ids[i], c.Val())
		if err != nil {
			return nil, fmt.Errorf("redis store: read task %s: %w", ids[i], err)
		}
		if t != nil {
			out = append(out, t)
		}
	}
	return out, nil
}

// CountTasks counts the tasks of each status, in one transaction: the
// finished ones from their counters, the others from the cardinality of
// their index (ASSIGNED: what the nodes hold less what runs).
func (r *Redis) CountTasks(ctx context.Context) (map[archivist.TaskStatus]int, error) {
	if err := r.read(); err != nil {
		return nil, err
	}
	var ready, held, retrying, scheduled, waiting, running *redis.IntCmd
	var loads, finished *redis.MapStringStringCmd
	_, err := r.client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		ready = pipe.ZCard(ctx, r.keys.key(redisKeyReady))
		held = pipe.ZCard(ctx, r.keys.prefix+"limits:heldall") // PENDING too (lua/limit_lib.lua)
		retrying = pipe.ZCard(ctx, r.keys.key(redisKeyRetrying))
		scheduled = pipe.ZCard(ctx, r.keys.key(redisKeyScheduled))
		waiting = pipe.ZCard(ctx, r.keys.key(redisKeyWaiting))
		running = pipe.ZCard(ctx, r.keys.key(redisKeyLeased))
		loads = pipe.HGetAll(ctx, r.keys.key(redisKeyLoads))
		finished = pipe.HGetAll(ctx, r.keys.key(redisKeyCounts))
		return nil
	})
	if err != nil {
		return nil, r.mapErr("count tasks", err)
	}
	out := map[archivist.TaskStatus]int{}
	add := func(s archivist.TaskStatus, n int) {
		if n > 0 {
			out[s] = n
		}
	}
	for s, v := range finished.Val() {
		n, _ := strconv.Atoi(v)
		add(archivist.TaskStatus(s), n)
	}
	placed := 0
	for _, v := range loads.Val() {
		n, _ := strconv.Atoi(v)
		placed += n
	}
	add(archivist.TaskPending, int(ready.Val()+held.Val()))
	add(archivist.TaskRetrying, int(retrying.Val()))
	add(archivist.TaskScheduled, int(scheduled.Val()))
	add(archivist.TaskWaiting, int(waiting.Val()))
	add(archivist.TaskInProgress, int(running.Val()))
	add(archivist.TaskAssigned, placed-int(running.Val()))
	return out, nil
}

// CancelTask cancels a task, or asks its running attempt to stop.
func (r *Redis) CancelTask(ctx context.Context, id string) (*archivist.Task, error) {
	return r.evalTask(ctx, "cancel task", luaScripts.cancel, id)
}

// RetryTask puts a finished, unsuccessful task back to PENDING.
func (r *Redis) RetryTask(ctx context.Context, id string) (*archivist.Task, error) {
	return r.evalTask(ctx, "retry task", luaScripts.retry, id)
}

// ReadyTasks promotes due SCHEDULED and RETRYING tasks and returns PENDING ones in
// placement order, in one script.
func (r *Redis) ReadyTasks(ctx context.Context, limit int) ([]*archivist.Task, error) {
	if limit <= 0 {
		return nil, nil
	}
	return r.evalTasks(ctx, "ready tasks", luaScripts.ready, limit, redisPromoteBatch)
}

// ReadRound reads the node loads and the head of the ready queue in one
// call (archivist.RoundReader): the ready script computes the limit from
// the free slots, so a placement round costs one round trip less.
func (r *Redis) ReadRound(ctx context.Context, workers map[string]int, margin, max int) (map[string]int, []*archivist.Task, int, error) {
	args := make([]any, 0, 5+2*len(workers))
	args = append(args, 0, redisPromoteBatch, "round", margin, max)
	for id, n := range workers {
		args = append(args, id, n)
	}
	res, err := r.eval(ctx, "read placement round", luaScripts.ready, args...)
	if err != nil {
		return nil, nil, 0, err
	}
	rep, _ := res.([]any)
	if len(rep) != 3 {
		return nil, nil, 0, fmt.Errorf("redis store: read placement round: unexpected script reply %v", res)
	}
	flat, _ := rep[0].([]any)
	loads := make(map[string]int, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		node, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			loads[node] = n
		}
	}
	limit, _ := rep[1].(int64)
	tasks, err := decodeTaskList(rep[2])
	if err != nil {
		return nil, nil, 0, fmt.Errorf("redis store: read placement round: %w", err)
	}
	return loads, tasks, int(limit), nil
}

// AssignTasks assigns a whole batch in one script under the leadership.
func (r *Redis) AssignTasks(ctx context.Context, lease archivist.Lease, as []archivist.Assignment, claimWithin time.Duration) ([]*archivist.Task, error) {
	holder, token := leaseArgs(lease)
	args := make([]any, 0, 3+3*len(as))
	args = append(args, holder, token, micros(claimWithin))
	for _, a := range as {
		var start any = ""
		if a.Start {
			start = micros(a.Grace)
		}
		args = append(args, a.TaskID, a.NodeID, start)
	}
	evs, _, err := r.evalEvents(ctx, "assign tasks", luaScripts.assign, args...)
	out := make([]*archivist.Task, 0, len(evs))
	for _, ev := range evs {
		// Not the tasks a limit held back instead (task.held).
		if ev.Task != nil && (ev.Type == archivist.EventTaskAssigned || ev.Type == archivist.EventTaskStarted) {
			out = append(out, ev.Task)
		}
	}
	return out, err
}

// NodeLoads reads the per-node counters.
func (r *Redis) NodeLoads(ctx context.Context) (map[string]int, error) {
	if err := r.read(); err != nil {
		return nil, err
	}
	m, err := r.client.HGetAll(ctx, r.keys.key(redisKeyLoads)).Result()
	if err != nil {
		return nil, r.mapErr("node loads", err)
	}
	out := make(map[string]int, len(m))
	for node, v := range m {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			out[node] = n
		}
	}
	return out, nil
}

// RecoverExpired takes back expired leases, a batch per script.
func (r *Redis) RecoverExpired(ctx context.Context, lease archivist.Lease, retry archivist.RetryPolicy) ([]*archivist.Task, error) {
	holder, token := leaseArgs(lease)
	var out []*archivist.Task
	for {
		args := append([]any{holder, token}, retryArgs(retry)...)
		args = append(args, redisRecoverBatch)
		got, err := r.evalTasks(ctx, "recover expired", luaScripts.recover, args...)
		if err != nil {
			return out, err
		}
		out = append(out, got...)
		if len(got) < redisRecoverBatch {
			return out, nil
		}
	}
}

// RequeueNode puts back every task of a lost node in one script.
func (r *Redis) RequeueNode(ctx context.Context, lease archivist.Lease, nodeID string) ([]*archivist.Task, error) {
	holder, token := leaseArgs(lease)
	return r.evalTasks(ctx, "requeue node", luaScripts.requeueNode, holder, token, nodeID, "")
}

// FailNode fails the running tasks of a lost node and puts back its
// assigned ones, in the same script as RequeueNode.
func (r *Redis) FailNode(ctx context.Context, lease archivist.Lease, nodeID, reason string) ([]*archivist.Task, error) {
	if reason == "" {
		reason = "node " + nodeID + " was lost while running this task"
	}
	holder, token := leaseArgs(lease)
	return r.evalTasks(ctx, "fail node", luaScripts.requeueNode, holder, token, nodeID, reason)
}

// PurgeFinished removes finished tasks, walking the tasks oldest first a
// batch per script.
func (r *Redis) PurgeFinished(ctx context.Context, before, failedBefore time.Time) (int, error) {
	cut := strconv.FormatInt(before.UnixMicro(), 10)
	failedCut := strconv.FormatInt(failedBefore.UnixMicro(), 10)
	total := 0
	cursor := "0"
	for {
		res, err := r.eval(ctx, "purge finished", luaScripts.purge, cut, cursor, redisPurgeBatch, failedCut)
		if err != nil {
			return total, err
		}
		rep, ok := res.([]any)
		if !ok || len(rep) != 3 {
			return total, fmt.Errorf("redis store: purge finished: unexpected reply %v", res)
		}
		n, _ := rep[0].(int64)
		total += int(n)
		next, _ := rep[1].(string)
		if done, _ := rep[2].(string); done == "1" || next == "" || next == cursor {
			return total, nil
		}
		cursor = next
	}
}

// ClaimTasks starts up to limit tasks assigned to nodeID in one script.
func (r *Redis) ClaimTasks(ctx context.Context, nodeID string, limit int, grace time.Duration) ([]*archivist.Task, error) {
	if limit <= 0 {
		return nil, nil
	}
	evs, _, err := r.evalEvents(ctx, "claim tasks", luaScripts.claim, nodeID, limit, micros(grace))
	return eventTasks(evs), err
}

// ClaimTask starts one PENDING task, or one assigned to nodeID.
func (r *Redis) ClaimTask(ctx context.Context, nodeID, id string, grace time.Duration) (*archivist.Task, error) {
	return r.evalTask(ctx, "claim task", luaScripts.claimOne, nodeID, id, micros(grace))
}

// ReportProgress records progress of the running attempt.
func (r *Redis) ReportProgress(ctx context.Context, id string, attempt int, progress float64, message string) error {
	_, err := r.eval(ctx, "report progress", luaScripts.progress, id, attempt,
		strconv.FormatFloat(progress, 'g', -1, 64), message)
	return err
}

// CompleteTask finishes the running attempt; a stale one is refused and
// recorded (task.stale_report) in the same script. Concurrent reports share
// one script call (see reporter).
func (r *Redis) CompleteTask(ctx context.Context, id string, attempt int, result json.RawMessage) (*archivist.Task, error) {
	return r.reports.do(ctx, "complete task", []any{"c", id, attempt, []byte(result)})
}

// FailTask records a failed attempt; a stale one is refused and recorded.
func (r *Redis) FailTask(ctx context.Context, id string, attempt int, f archivist.Failure) (*archivist.Task, error) {
	args := append([]any{"f", id, attempt, f.Error, formatBool(f.Permanent), formatBool(f.TimedOut), formatBool(f.Cancelled)},
		retryArgs(f.Retry)...)
	return r.reports.do(ctx, "fail task", args)
}

// ReleaseTask gives the running attempt back unfinished.
func (r *Redis) ReleaseTask(ctx context.Context, id string, attempt int) (*archivist.Task, error) {
	return r.evalTask(ctx, "release task", luaScripts.release, id, attempt)
}

// --- nodes ---

// Heartbeat stores the node's description with its settings applied,
// keeping its draining flag.
func (r *Redis) Heartbeat(ctx context.Context, n *archivist.Node) (*archivist.Node, error) {
	if n == nil || n.ID == "" {
		return nil, archivist.Errorf(archivist.CodeBadUserInput, "a node needs an id")
	}
	return r.heartbeat(ctx, n)
}

// GetNode reads one node.
func (r *Redis) GetNode(ctx context.Context, id string) (*archivist.Node, error) {
	if err := r.read(); err != nil {
		return nil, err
	}
	pipe := r.client.Pipeline()
	js := pipe.HGet(ctx, r.keys.key(redisKeyNodes), id)
	dr := pipe.SIsMember(ctx, r.keys.key(redisKeyDraining), id)
	if _, err := pipe.Exec(ctx); err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, notFound("node", id)
		}
		return nil, r.mapErr("get node", err)
	}
	n, err := decodeNode(js.Val(), dr.Val())
	if err != nil {
		return nil, fmt.Errorf("redis store: node %s: %w", id, err)
	}
	return n, nil
}

// ListNodes reads every node, sorted by id.
func (r *Redis) ListNodes(ctx context.Context) ([]*archivist.Node, error) {
	if err := r.read(); err != nil {
		return nil, err
	}
	pipe := r.client.Pipeline()
	all := pipe.HGetAll(ctx, r.keys.key(redisKeyNodes))
	dr := pipe.SMembers(ctx, r.keys.key(redisKeyDraining))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, r.mapErr("list nodes", err)
	}
	draining := map[string]bool{}
	for _, id := range dr.Val() {
		draining[id] = true
	}
	out := make([]*archivist.Node, 0, len(all.Val()))
	for id, js := range all.Val() {
		n, err := decodeNode(js, draining[id])
		if err != nil {
			return nil, fmt.Errorf("redis store: node %s: %w", id, err)
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// SetDraining sets or clears a node's draining flag.
func (r *Redis) SetDraining(ctx context.Context, id string, draining bool) (*archivist.Node, error) {
	res, err := r.eval(ctx, "set draining", luaScripts.setDraining, id, formatBool(draining))
	if err != nil {
		return nil, err
	}
	js, _ := res.(string)
	n, err := decodeNode(js, draining)
	if err != nil {
		return nil, fmt.Errorf("redis store: node %s: %w", id, err)
	}
	return n, nil
}

// RemoveNode forgets a node.
func (r *Redis) RemoveNode(ctx context.Context, id string) error {
	_, err := r.eval(ctx, "remove node", luaScripts.removeNode, id)
	return err
}

// --- leadership ---

func decodeLease(res any) (archivist.Lease, error) {
	rep, err := replyStrings(res, 0)
	if err != nil || len(rep) == 0 {
		return archivist.Lease{}, err
	}
	if len(rep) != 3 {
		return archivist.Lease{}, fmt.Errorf("unexpected lease %v", rep)
	}
	token, err1 := strconv.ParseInt(rep[1], 10, 64)
	expires, err2 := parseMicros(rep[2])
	if err := errors.Join(err1, err2); err != nil {
		return archivist.Lease{}, err
	}
	return archivist.Lease{Holder: rep[0], Token: token, Expires: expires}, nil
}

// Campaign acquires or renews the leadership by the server's clock.
func (r *Redis) Campaign(ctx context.Context, nodeID string, ttl time.Duration) (archivist.Lease, error) {
	res, err := r.eval(ctx, "campaign", luaScripts.campaign, nodeID, micros(ttl))
	if err != nil {
		return archivist.Lease{}, err
	}
	l, err := decodeLease(res)
	if err != nil {
		return l, fmt.Errorf("redis store: campaign: %w", err)
	}
	return l, nil
}

// Resign gives up the leadership if nodeID holds it.
func (r *Redis) Resign(ctx context.Context, nodeID string) error {
	_, err := r.eval(ctx, "resign", luaScripts.resign, nodeID)
	return err
}

// Leader returns the lease held at the server's now.
func (r *Redis) Leader(ctx context.Context) (archivist.Lease, error) {
	res, err := r.eval(ctx, "leader", luaScripts.leader)
	if err != nil {
		return archivist.Lease{}, err
	}
	l, err := decodeLease(res)
	if err != nil {
		return l, fmt.Errorf("redis store: leader: %w", err)
	}
	return l, nil
}

// --- config ---

// Config reads the stored configuration, or the default.
func (r *Redis) Config(ctx context.Context) (archivist.Config, error) {
	if err := r.read(); err != nil {
		return archivist.Config{}, err
	}
	v, err := r.client.HMGet(ctx, r.keys.key(redisKeyConfig), "json", "version", "updated").Result()
	if err != nil {
		return archivist.Config{}, r.mapErr("config", err)
	}
	js, _ := v[0].(string)
	if js == "" {
		return archivist.DefaultConfig(), nil
	}
	version, _ := v[1].(string)
	updated, _ := v[2].(string)
	c, err := decodeConfig(js, version, updated)
	if err != nil {
		return c, fmt.Errorf("redis store: %w", err)
	}
	return c, nil
}

// UpdateConfig stores cfg as version prev+1 if prev is still current.
func (r *Redis) UpdateConfig(ctx context.Context, cfg archivist.Config, prev int64) (archivist.Config, error) {
	if err := cfg.Validate(); err != nil {
		return archivist.Config{}, err
	}
	js, err := encodeConfig(cfg)
	if err != nil {
		return archivist.Config{}, fmt.Errorf("redis store: encode config: %w", err)
	}
	res, err := r.eval(ctx, "update config", luaScripts.updateConfig, prev, js)
	if err != nil {
		return archivist.Config{}, err
	}
	rep, err := replyStrings(res, 2)
	if err != nil {
		return archivist.Config{}, fmt.Errorf("redis store: update config: %w", err)
	}
	v, err1 := strconv.ParseInt(rep[0], 10, 64)
	at, err2 := parseMicros(rep[1])
	if err := errors.Join(err1, err2); err != nil {
		return archivist.Config{}, fmt.Errorf("redis store: update config: %w", err)
	}
	cfg.Version, cfg.UpdatedAt = v, at
	return cfg, nil
}

// --- events ---

// LastSeq is the Seq of the newest event this instance knows of: every
// event it wrote itself or received from the stream. It can be a moment
// behind the cluster's event counter (events other nodes just wrote, not
// read yet), and it is where Subscribe(ctx, 0) starts: LastSeq then
// Subscribe(LastSeq) equals Subscribe(0).
func (r *Redis) LastSeq(ctx context.Context) (uint64, error) {
	if err := r.read(); err != nil {
		return 0, err
	}
	return max(r.bus.lastSeq(), r.seen.Load()), nil
}

// eventCounter reads the cluster's event counter: the Seq of its newest
// event.
func (r *Redis) eventCounter(ctx context.Context) (uint64, error) {
	v, err := r.client.Get(ctx, r.keys.key(redisKeyEventSeq)).Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, r.mapErr("read the event counter", err)
	}
	r.saw(v)
	return v, nil
}

// NextDue asks the server (its clock decides) how long until the earliest
// SCHEDULED or RETRYING task is due.
func (r *Redis) NextDue(ctx context.Context) (time.Duration, bool, error) {
	res, err := r.eval(ctx, "next due", luaScripts.nextDue)
	if err != nil {
		return 0, false, err
	}
	s, _ := res.(string)
	us, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("redis store: next due: unexpected reply %v", res)
	}
	if us < 0 {
		return 0, false, nil
	}
	return time.Duration(us) * time.Microsecond, true, nil
}
