package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist"
)

// NodeSettings reads the settings kept for node id.
func (r *Redis) NodeSettings(ctx context.Context, id string) (archivist.NodeSettings, error) {
	var s archivist.NodeSettings
	if err := r.read(); err != nil {
		return s, err
	}
	js, err := r.client.HGet(ctx, r.keys.nodeSettings(), id).Result()
	if errors.Is(err, redis.Nil) {
		return s, nil
	}
	if err != nil {
		return s, r.mapErr("get node settings", err)
	}
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		return s, fmt.Errorf("redis store: settings of node %s: %w", id, err)
	}
	return s, nil
}

// SetNodeSettings merges s into node id's settings and applies them to its
// description: it reads both, and writes them if neither changed meanwhile
// (a heartbeat may come in between: then it reads again).
func (r *Redis) SetNodeSettings(ctx context.Context, id string, s archivist.NodeSettings) (*archivist.Node, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	for range 20 {
		if err := r.read(); err != nil {
			return nil, err
		}
		pipe := r.client.Pipeline()
		nodeJS := pipe.HGet(ctx, r.keys.key(redisKeyNodes), id)
		setJS := pipe.HGet(ctx, r.keys.nodeSettings(), id)
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, r.mapErr("set node settings", err)
		}
		if errors.Is(nodeJS.Err(), redis.Nil) {
			return nil, notFound("node", id)
		}
		n, err := decodeNode(nodeJS.Val(), false)
		if err != nil {
			return nil, fmt.Errorf("redis store: node %s: %w", id, err)
		}
		var cur archivist.NodeSettings
		if js := setJS.Val(); js != "" {
			if err := json.Unmarshal([]byte(js), &cur); err != nil {
				return nil, fmt.Errorf("redis store: settings of node %s: %w", id, err)
			}
		}
		merged := cur.Merge(s)
		merged.UpdatedAt = time.Now().UTC()
		newSet, err := json.Marshal(merged)
		if err != nil {
			return nil, err
		}
		merged.ApplyTo(n)
		newNode, err := encodeNode(n)
		if err != nil {
			return nil, err
		}
		res, err := r.eval(ctx, "set node settings", luaScripts.setNodeSettings, id, nodeJS.Val(), newNode,
			string(newSet), setJS.Val(), archivist.NodeSettingsDetail)
		if archivist.IsCode(err, archivist.CodeConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		r.settingsSeen.Store(id, string(newSet))
		n.Draining = res == "1"
		return n, nil
	}
	return nil, archivist.Errorf(archivist.CodeConflict, "node %q kept changing meanwhile; try again", id)
}

// heartbeat stores n with its settings applied. The settings are those the
// last heartbeat of the node saw (cached); the script refuses them if they
// changed since, and returns the current ones to apply and try again.
func (r *Redis) heartbeat(ctx context.Context, n *archivist.Node) (*archivist.Node, error) {
	setJS := ""
	if v, ok := r.settingsSeen.Load(n.ID); ok {
		setJS = v.(string)
	}
	for range 5 {
		out := n.Clone()
		if setJS != "" {
			var s archivist.NodeSettings
			if err := json.Unmarshal([]byte(setJS), &s); err != nil {
				return nil, fmt.Errorf("redis store: settings of node %s: %w", n.ID, err)
			}
			s.ApplyTo(out)
		}
		js, err := encodeNode(out)
		if err != nil {
			return nil, fmt.Errorf("redis store: encode node %s: %w", n.ID, err)
		}
		workers := 0 // worker time for the statistics (heartbeat.lua)
		if out.Role.RunsTasks() {
			workers = out.Workers
		}
		res, err := r.eval(ctx, "heartbeat", luaScripts.heartbeat, n.ID, js, setJS, workers, out.Interval.Microseconds(), out.LastHeartbeat.UnixMicro())
		if err != nil {
			return nil, err
		}
		if rep, ok := res.([]any); ok && len(rep) == 2 && rep[0] == "settings" {
			setJS, _ = rep[1].(string)
			r.settingsSeen.Store(n.ID, setJS)
			continue
		}
		out.Draining = res == "1"
		return out, nil
	}
	return nil, archivist.Errorf(archivist.CodeConflict, "the settings of node %q keep changing; try again", n.ID)
}
