package store

import (
	"context"
	"embed"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// The Lua scripts of the Redis store, one per transition. Each is
// lua/lib.lua (the shared KEYS layout, indexes and events; read it first)
// followed by the script's own file, which lists its ARGV, as the body of
// a function whose result the script returns with the Seq of its last
// event: {seq, result}. The script's events and counter changes are
// written when main returns (flush in lib.lua), also before an error reply
// (a stale report records its event). Error replies pass unchanged.
//
//go:embed lua/*.lua
var luaFiles embed.FS

type redisScripts struct {
	create, cancel, retry, ready, assign, recover, requeueNode, purge *redis.Script
	claim, claimOne, progress, report, release                        *redis.Script
	heartbeat, setDraining, removeNode, setNodeSettings               *redis.Script
	campaign, resign, leader, updateConfig                            *redis.Script
	nextDue                                                           *redis.Script
	// schedule changes a schedule, fireSchedule records a tick
	// (redis_schedule.go).
	schedule, fireSchedule *redis.Script
	// workflow creates, cancels and retries workflows and adds steps
	// (redis_workflow.go).
	workflow *redis.Script
	// bulk cancels, retries or deletes a batch of tasks (redis_bulk.go).
	bulk *redis.Script
	// limit changes limits and paused task types (redis_limit.go).
	limit *redis.Script
}

var luaScripts = mustLoadScripts()

func mustLoadScripts() *redisScripts {
	lib := mustReadLua("lib") + "\n-- limit_lib.lua\n" + mustReadLua("limit_lib")
	s := func(name string) *redis.Script {
		return redis.NewScript(lib + "\n-- " + name + ".lua\nlocal function main()\n" + mustReadLua(name) + scriptEpilogue)
	}
	return &redisScripts{
		create: s("create"), cancel: s("cancel"), retry: s("retry"), ready: s("ready"), assign: s("assign"),
		recover: s("recover"), requeueNode: s("requeue_node"), purge: s("purge"),
		claim: s("claim"), claimOne: s("claim_one"), progress: s("progress"), report: s("report"),
		release:   s("release"),
		heartbeat: s("heartbeat"), setDraining: s("set_draining"), removeNode: s("remove_node"),
		setNodeSettings: s("set_node_settings"),
		campaign:        s("campaign"), resign: s("resign"), leader: s("leader"), updateConfig: s("update_config"),
		nextDue:  s("next_due"),
		schedule: s("schedule"), fireSchedule: s("fire_schedule"),
		workflow: s("workflow"),
		bulk:     s("bulk"),
		limit:    s("limit"),
	}
}

const scriptEpilogue = `
end
local res = main()
wf_flush()
flush()
if type(res) == 'table' and res.err then return res end
if type(res) == 'table' and res[1] == EVENTS_REPLY then res[1] = BLOB end
return { istr(LAST_EVENT), res }
`

func mustReadLua(name string) string {
	b, err := luaFiles.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic(fmt.Sprintf("store: embedded script %s: %v", name, err))
	}
	return string(b)
}

func (s *redisScripts) all() []*redis.Script {
	return []*redis.Script{s.create, s.cancel, s.retry, s.ready, s.assign, s.recover, s.requeueNode, s.purge,
		s.claim, s.claimOne, s.progress, s.report, s.release,
		s.heartbeat, s.setDraining, s.removeNode, s.setNodeSettings, s.campaign, s.resign, s.leader, s.updateConfig, s.nextDue,
		s.schedule, s.fireSchedule, s.workflow, s.bulk, s.limit}
}

// load puts every script in the server's script cache (on every master of
// a Cluster), so that EVALSHA finds them; Script.Run still falls back to
// EVAL after a server restart empties the cache.
func (s *redisScripts) load(ctx context.Context, c redis.Scripter) error {
	for _, sc := range s.all() {
		if err := sc.Load(ctx, c).Err(); err != nil {
			return err
		}
	}
	return nil
}
