package store

import (
	"fmt"
	"strconv"
	"strings"
)

// The Redis key layout of one cluster. Every key starts with the same hash
// tag, {archivist:<cluster>}, so that all of a cluster's keys live in one
// Redis Cluster slot and every Lua script may touch any of them (scripts
// over keys of different slots fail with CROSSSLOT). The fixed keys are
// passed to every script in KEYS, in the order of the redisKey* constants
// (store/lua/lib.lua documents the same list); per-task and per-node keys
// are built inside the scripts from the prefix, which keeps them in the
// slot.
//
//	<prefix>all             ZSET   task id -> Seq (ListTasks, newest first)
//	<prefix>ready           ZSET   PENDING task id -> (3-rank)*2^50 + Turn (ties by id)
//	<prefix>retrying        ZSET   RETRYING task id -> RunAt (unix µs)
//	<prefix>scheduled       ZSET   SCHEDULED task id -> RunAt (unix µs)
//	<prefix>scheduled:seq   ZSET   SCHEDULED task id -> Seq (ListTasks of SCHEDULED tasks)
//	<prefix>unique          HASH   unique key -> id of the newest task that took it
//	<prefix>leased          ZSET   IN_PROGRESS task id -> LeaseUntil (µs)
//	<prefix>counts          HASH   finished status -> number of tasks (the others: index sizes)
//	<prefix>loads           HASH   node id -> its ASSIGNED and IN_PROGRESS tasks
//	<prefix>seq:task        STRING last task Seq
//	<prefix>seq:event       STRING last event Seq
//	<prefix>events          STREAM events, one entry per script call, id "<Seq of its last event>-0", MINID ~
//	<prefix>leader          HASH   holder, token, expires (µs)
//	<prefix>nodes           HASH   node id -> node JSON
//	<prefix>draining        SET    draining node ids
//	<prefix>config          HASH   json, version, updated (µs)
//	<prefix>nodesettings    HASH   node id -> NodeSettings JSON (built in set_node_settings.lua; redis_nodesettings.go)
//	<prefix>task:<id>       HASH   i, m (MessagePack) and result (see redis_codec.go)
//	<prefix>assigned:<node> ZSET   the node's ASSIGNED tasks, placement order
//	<prefix>query:<sha256>  STRING a persisted GraphQL query (redis_querycache.go), with a TTL
//	<prefix>stats:<res>:<start> HASH statistics of one bucket (res 10 or 300, start in seconds), with a TTL:
//	                        dimension ('g', 't:<type>', 'n:<node>') -> MessagePack (see lua/lib.lua)
//	<prefix>stats:beats     HASH   node id -> time of its last heartbeat (µs, the node's clock)
//	<prefix>stats:rolled    STRING start of the last fine bucket rolled up into the coarse ones (see lua/lib.lua)
//	<prefix>queries         ZSET   persisted query hash -> last use (ms): least recently used first out
//	<prefix>querysizes      HASH   persisted query hash -> bytes counted for it
//	<prefix>querybytes      STRING sum of querysizes, kept within RedisOptions.QueryBytes
//	<prefix>schedules       HASH   schedule name -> definition JSON, its state left out (lua/schedule.lua)
//	<prefix>schedules:state HASH   schedule name -> MessagePack [paused (1/0), next run, last run (µs, 0: none),
//	                        last task id, created, updated (µs)]: what the scripts compare and change
//	<prefix>waiting         ZSET   WAITING task id (a workflow step) -> Seq (CountTasks, ListTasks by status)
//	<prefix>workflows       ZSET   workflow id -> its Seq (ListWorkflows, newest first)
//	<prefix>seq:workflow    STRING last workflow Seq
//	<prefix>fair            HASH   fair share per priority rank r: v:<r> the highest Turn placed, l:<r>:<group>
//	                        the last Turn given to the group (built in lua/lib.lua)
//	<prefix>groups          SET    the groups (Task.Group) that have tasks (lua/lib.lua; redis_group.go)
//	<prefix>group:<name>    HASH   status -> number of the group's tasks in it (a status at 0 is removed)
//	<prefix>wf:<id>         HASH   a workflow: h (MessagePack [name, metadata, onFailure], packed in Go),
//	                        s (its state: [status, error, created, updated, completed (µs), Seq, onFailure,
//	                        steps so far]) and one field s:<key> per step ([position, status, task id,
//	                        added by, dependencies...]); see lua/lib.lua and redis_workflow.go
//	<prefix>limits, limits:times, limits:running, limits:tokens, limits:held HASHes,
//	<prefix>held:<hold key> ZSETs and <prefix>paused SET: limits and paused task
//	                        types (see lua/limit_lib.lua)
//
// where <prefix> is "{archivist:<cluster>}:".
type redisKeys struct {
	prefix string
	// fixed are the KEYS of every script.
	fixed []string
}

// Indexes of the fixed keys in redisKeys.fixed (Lua's KEYS[i+1]).
const (
	redisKeyAll = iota
	redisKeyReady
	redisKeyRetrying
	redisKeyLeased
	redisKeyCounts
	redisKeyLoads
	redisKeyTaskSeq
	redisKeyEventSeq
	redisKeyEvents
	redisKeyLeader
	redisKeyNodes
	redisKeyDraining
	redisKeyConfig
	redisKeyScheduled
	redisKeyUnique
	redisKeyScheduledSeq
	redisKeyWaiting
	redisKeyWorkflows
	redisKeyWorkflowSeq
	redisKeyCount
)

var redisKeyNames = [redisKeyCount]string{
	redisKeyAll:          "all",
	redisKeyReady:        "ready",
	redisKeyRetrying:     "retrying",
	redisKeyLeased:       "leased",
	redisKeyCounts:       "counts",
	redisKeyLoads:        "loads",
	redisKeyTaskSeq:      "seq:task",
	redisKeyEventSeq:     "seq:event",
	redisKeyEvents:       "events",
	redisKeyLeader:       "leader",
	redisKeyNodes:        "nodes",
	redisKeyDraining:     "draining",
	redisKeyConfig:       "config",
	redisKeyScheduled:    "scheduled",
	redisKeyUnique:       "unique",
	redisKeyScheduledSeq: "scheduled:seq",
	redisKeyWaiting:      "waiting",
	redisKeyWorkflows:    "workflows",
	redisKeyWorkflowSeq:  "seq:workflow",
}

// redisHashTag is the hash tag shared by every key of cluster.
func redisHashTag(cluster string) string { return "{archivist:" + cluster + "}" }

// newRedisKeys returns the key layout of cluster. A cluster name must not
// contain braces, which would end the hash tag early.
func newRedisKeys(cluster string) (redisKeys, error) {
	if cluster == "" {
		return redisKeys{}, fmt.Errorf("redis store: the cluster name is empty")
	}
	if strings.ContainsAny(cluster, "{}") {
		return redisKeys{}, fmt.Errorf("redis store: cluster name %q must not contain { or }", cluster)
	}
	k := redisKeys{prefix: redisHashTag(cluster) + ":"}
	k.fixed = make([]string, redisKeyCount)
	for i, name := range redisKeyNames {
		k.fixed[i] = k.prefix + name
	}
	return k, nil
}

func (k redisKeys) key(i int) string { return k.fixed[i] }

// task is a task's HASH. The scripts build it (and the per-node keys) from
// the prefix the same way.
func (k redisKeys) task(id string) string { return k.prefix + "task:" + id }

// nodeSettings is the HASH of node settings; set_node_settings.lua builds
// the same name from the prefix.
func (k redisKeys) nodeSettings() string { return k.prefix + "nodesettings" }

// schedules and scheduleStates are the HASHes of schedules (definitions
// and state); lua/schedule.lua and lua/fire_schedule.lua build the same
// names.
func (k redisKeys) schedules() string      { return k.prefix + "schedules" }
func (k redisKeys) scheduleStates() string { return k.prefix + "schedules:state" }

// fair is the HASH of the fair share state; lua/lib.lua (K_FAIR) builds
// the same name.
func (k redisKeys) fair() string { return k.prefix + "fair" }

// workflow is the HASH of workflow id; lua/lib.lua (wf_key) builds the same
// name.
func (k redisKeys) workflow(id string) string { return k.prefix + "wf:" + id }

// stats is the statistics HASH of the bucket of resolution res starting at
// start (both in seconds); lua/lib.lua builds the same name.
func (k redisKeys) stats(res, start int64) string {
	return k.prefix + "stats:" + strconv.FormatInt(res, 10) + ":" + strconv.FormatInt(start, 10)
}
