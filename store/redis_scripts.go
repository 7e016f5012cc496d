package store

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The transitions of the Redis store are the functions of one Redis
// Functions library (Redis 7.0 or later): lua/lib.lua (the shared KEYS
// layout, indexes and events; read it first) and lua/limit_lib.lua, then
// each transition's own file, which lists its ARGV, as the body of its
// function's main. A call's reply is main's result with the Seq of its last
// event: {seq, result}. The call's events and counter changes are written
// when main returns (flush in lib.lua), also before an error reply (a
// stale report records its event). Error replies pass unchanged.
//
// A library is loaded once per server and its helpers are defined once,
// where a script (EVALSHA) would define all of them again on every call:
// that prologue cost about 30 µs of Redis CPU per call, more than most
// transitions themselves. The library's name carries a hash of its code,
// so that nodes of different versions on one Redis (a rolling upgrade)
// each call their own.
//
//go:embed lua/*.lua
var luaFiles embed.FS

// redisFunc is one function of the library: one transition.
type redisFunc struct {
	name string // as registered: <library>_<file>
	file string
}

type redisScripts struct {
	create, cancel, retry, ready, assign, recover, requeueNode, purge *redisFunc
	claim, claimOne, progress, report, release                        *redisFunc
	heartbeat, setDraining, removeNode, setNodeSettings               *redisFunc
	campaign, resign, leader, updateConfig                            *redisFunc
	nextDue                                                           *redisFunc
	// schedule changes a schedule, fireSchedule records a tick
	// (redis_schedule.go).
	schedule, fireSchedule *redisFunc
	// workflow creates, cancels and retries workflows and adds steps
	// (redis_workflow.go).
	workflow *redisFunc
	// bulk cancels, retries or deletes a batch of tasks (redis_bulk.go).
	bulk *redisFunc
	// limit changes limits and paused task types (redis_limit.go).
	limit *redisFunc

	// library is the library's name, code its source for FUNCTION LOAD.
	library, code string
}

var luaScripts = mustLoadScripts()

func mustLoadScripts() *redisScripts {
	f := func(file string) *redisFunc { return &redisFunc{file: file} }
	s := &redisScripts{
		create: f("create"), cancel: f("cancel"), retry: f("retry"), ready: f("ready"), assign: f("assign"),
		recover: f("recover"), requeueNode: f("requeue_node"), purge: f("purge"),
		claim: f("claim"), claimOne: f("claim_one"), progress: f("progress"), report: f("report"),
		release:   f("release"),
		heartbeat: f("heartbeat"), setDraining: f("set_draining"), removeNode: f("remove_node"),
		setNodeSettings: f("set_node_settings"),
		campaign:        f("campaign"), resign: f("resign"), leader: f("leader"), updateConfig: f("update_config"),
		nextDue:  f("next_due"),
		schedule: f("schedule"), fireSchedule: f("fire_schedule"),
		workflow: f("workflow"),
		bulk:     f("bulk"),
		limit:    f("limit"),
	}
	var body strings.Builder
	body.WriteString(mustReadLua("lib"))
	body.WriteString("\n-- limit_lib.lua\n")
	body.WriteString(mustReadLua("limit_lib"))
	body.WriteString(libraryRun)
	for _, fn := range s.all() {
		fmt.Fprintf(&body, "-- %s.lua\ndo\nlocal function main()\n%s\nend\n"+
			"redis.register_function(LIBRARY .. '_%s', function(keys, args) return run(main, keys, args) end)\nend\n",
			fn.file, mustReadLua(fn.file), fn.file)
	}
	sum := sha256.Sum256([]byte(body.String()))
	s.library = "archivist_" + hex.EncodeToString(sum[:6])
	for _, fn := range s.all() {
		fn.name = s.library + "_" + fn.file
	}
	s.code = "#!lua name=" + s.library + "\n" + fmt.Sprintf("local LIBRARY = %q\n", s.library) + body.String()
	return s
}

// libraryRun runs one call of a function: its main, then what lib.lua
// writes at the end of every call.
const libraryRun = `
local function run(main, keys, args)
  begin_call(keys, args)
  local res = main()
  wf_flush()
  flush()
  if type(res) == 'table' and res.err then return res end
  if type(res) == 'table' and res[1] == EVENTS_REPLY then res[1] = BLOB end
  return { istr(LAST_EVENT), res }
end
`

func mustReadLua(name string) string {
	b, err := luaFiles.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic(fmt.Sprintf("store: embedded script %s: %v", name, err))
	}
	return string(b)
}

func (s *redisScripts) all() []*redisFunc {
	return []*redisFunc{s.create, s.cancel, s.retry, s.ready, s.assign, s.recover, s.requeueNode, s.purge,
		s.claim, s.claimOne, s.progress, s.report, s.release,
		s.heartbeat, s.setDraining, s.removeNode, s.setNodeSettings, s.campaign, s.resign, s.leader, s.updateConfig, s.nextDue,
		s.schedule, s.fireSchedule, s.workflow, s.bulk, s.limit}
}

// load loads the library on c's server, or on every master of a Cluster,
// unless it is there already. A server without it (restarted without
// persistence, a new Cluster master) gets it again from the first call
// that misses it (isFunctionMissing).
func (s *redisScripts) load(ctx context.Context, c redis.UniversalClient) error {
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return s.loadOn(ctx, m) })
	}
	return s.loadOn(ctx, c)
}

func (s *redisScripts) loadOn(ctx context.Context, c redis.Cmdable) error {
	err := c.FunctionLoad(ctx, s.code).Err()
	switch {
	case err == nil, strings.Contains(err.Error(), "Library '"+s.library+"' already exists"):
		return nil
	case isUnknownCommand(err):
		return fmt.Errorf("the server has no Redis Functions: Archivist needs Redis 7.0 or later (or Valkey 7.2 or later): %w", err)
	}
	return err
}

// isFunctionMissing reports whether err says the server has not the
// function called (it lost the library: nothing was written).
func isFunctionMissing(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.HasSuffix(rerr.Error(), "Function not found")
}

func isUnknownCommand(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "ERR unknown command")
}
