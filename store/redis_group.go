package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
	"github.com/rpg-archivist/archivist"
)

// Groups (see lua/lib.lua): the scripts count the tasks of each named
// group by status in <prefix>group:<name>, and list the groups that have
// tasks in <prefix>groups.
func (k redisKeys) groups() string { return k.prefix + "groups" }

// countGroupsScript reads the counters of the groups ARGV[2...] or, with
// none, of every group in KEYS[1] (the groups SET), in one step.
// ARGV[1] is the key prefix. Returns {group, {status, count, ...}, ...}.
var countGroupsScript = redis.NewScript(`
local groups = {}
for k = 2, #ARGV do groups[#groups + 1] = ARGV[k] end
if #groups == 0 then groups = redis.call('SMEMBERS', KEYS[1]) end
local out = {}
for _, g in ipairs(groups) do
  local c = redis.call('HGETALL', ARGV[1] .. 'group:' .. g)
  if #c > 0 then
    out[#out + 1] = g
    out[#out + 1] = c
  end
end
return out
`)

// CountGroups reads the counters of the given groups, or of every group.
func (r *Redis) CountGroups(ctx context.Context, groups ...string) (map[string]map[archivist.TaskStatus]int, error) {
	if err := r.read(); err != nil {
		return nil, err
	}
	args := make([]any, 0, 1+len(groups))
	args = append(args, r.keys.prefix)
	for _, g := range groups {
		args = append(args, g)
	}
	res, err := countGroupsScript.Run(ctx, r.client, []string{r.keys.groups()}, args...).Slice()
	if err != nil {
		return nil, r.mapErr("count groups", err)
	}
	out := make(map[string]map[archivist.TaskStatus]int, len(res)/2)
	for k := 0; k+1 < len(res); k += 2 {
		g, ok := res[k].(string)
		fields, ok2 := res[k+1].([]any)
		if !ok || !ok2 {
			return nil, fmt.Errorf("redis store: count groups: unexpected reply %v", res)
		}
		c := map[archivist.TaskStatus]int{}
		for j := 0; j+1 < len(fields); j += 2 {
			st, _ := fields[j].(string)
			v, _ := fields[j+1].(string)
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				c[archivist.TaskStatus(st)] = n
			}
		}
		if len(c) > 0 {
			out[g] = c
		}
	}
	return out, nil
}
