package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"time"

	"github.com/rpg-archivist/archivist"
)

// rollups are the engine's statistics buckets (stats.go), changed by the
// transitions under the engine's lock. The embedded store writes the
// buckets a transition changed in the same file transaction as the
// transition (see commitLoop), and deletes the expired ones.
type rollups struct {
	tiers [len(statTiers)]map[int64]*statBucket
	cur   [len(statTiers)]*statBucket
	// track is set when changes are written to a file: dirty holds the
	// buckets changed since the last write, gone the expired ones.
	track bool
	dirty map[statKey]*statBucket
	gone  []statKey
}

type statKey struct {
	tier  int
	start int64
}

// statRecord is one bucket to write (val nil: to delete) in the file.
type statRecord struct {
	key []byte
	val []byte
}

func (k statKey) bytes() []byte {
	b := make([]byte, 9)
	b[0] = byte(k.tier)
	binary.BigEndian.PutUint64(b[1:], uint64(k.start))
	return b
}

func parseStatKey(b []byte) (statKey, bool) {
	if len(b) != 9 || int(b[0]) >= len(statTiers) {
		return statKey{}, false
	}
	return statKey{tier: int(b[0]), start: int64(binary.BigEndian.Uint64(b[1:]))}, true
}

// statExpired reports whether a bucket of tier starting at start is past its
// retention at now.
func statExpired(tier int, start int64, now time.Time) bool {
	t := statTiers[tier]
	return time.Unix(start, 0).Add(t.res + t.keep).Before(now)
}

// at returns the bucket of now in every tier, creating them (and dropping
// expired ones when a new bucket starts), marked as changed.
func (r *rollups) at(now time.Time) [len(statTiers)]*statBucket {
	var out [len(statTiers)]*statBucket
	sec := now.Unix()
	for i, t := range statTiers {
		res := int64(t.res / time.Second)
		start := sec - sec%res
		b := r.cur[i]
		if b == nil || b.Start != start {
			if r.tiers[i] == nil {
				r.tiers[i] = map[int64]*statBucket{}
			}
			b = r.tiers[i][start]
			if b == nil {
				r.prune(i, now)
				b = &statBucket{Start: start}
				r.tiers[i][start] = b
			}
			r.cur[i] = b
		}
		if r.track {
			if r.dirty == nil {
				r.dirty = map[statKey]*statBucket{}
			}
			r.dirty[statKey{i, start}] = b
		}
		out[i] = b
	}
	return out
}

func (r *rollups) prune(tier int, now time.Time) {
	for start := range r.tiers[tier] {
		if statExpired(tier, start, now) {
			delete(r.tiers[tier], start)
			if r.track {
				r.gone = append(r.gone, statKey{tier, start})
			}
		}
	}
}

// load puts a bucket read from the file back, unless it expired (then it
// is to be deleted).
func (r *rollups) load(k statKey, b *statBucket, now time.Time) {
	if statExpired(k.tier, k.start, now) {
		r.gone = append(r.gone, k)
		return
	}
	if r.tiers[k.tier] == nil {
		r.tiers[k.tier] = map[int64]*statBucket{}
	}
	b.Start = k.start
	r.tiers[k.tier][k.start] = b
}

// take encodes the buckets changed since the last call and the expired
// ones, for the file.
func (r *rollups) take() []statRecord {
	if len(r.dirty) == 0 && len(r.gone) == 0 {
		return nil
	}
	out := make([]statRecord, 0, len(r.dirty)+len(r.gone))
	for k, b := range r.dirty {
		v, err := json.Marshal(b)
		if err != nil {
			continue // cannot happen: plain numbers and maps
		}
		out = append(out, statRecord{key: k.bytes(), val: v})
	}
	for _, k := range r.gone {
		out = append(out, statRecord{key: k.bytes()})
	}
	clear(r.dirty)
	r.gone = r.gone[:0]
	return out
}

// Recording, from the transitions (under the engine's lock).

// statSubmitted counts the submission of t, in its group too.
func (tx *tx) statSubmitted(t *archivist.Task) {
	for _, b := range tx.e.stats.at(tx.now) {
		b.G.Submitted++
		if t.Group != "" {
			statDimOf(&b.Groups, t.Group, archivist.MaxStatsGroups).Submitted++
		}
	}
}

func (tx *tx) statEnded(t *archivist.Task, outcome int) {
	for _, b := range tx.e.stats.at(tx.now) {
		b.ended(t, tx.now, outcome)
	}
}

// statFailedUnstarted counts a task that failed without an attempt ending
// (given up after too many requeues): no latency, no busy time.
func (tx *tx) statFailedUnstarted(t *archivist.Task) {
	c := *t
	c.StartedAt = time.Time{}
	tx.statEnded(&c, statFailed)
}

// statHeartbeat adds the worker time since the node's previous heartbeat
// (at most one interval) to its node.
func (tx *tx) statHeartbeat(prev, n *archivist.Node) {
	if prev == nil || !n.Role.RunsTasks() || n.Workers <= 0 {
		return
	}
	el := min(n.Interval, n.LastHeartbeat.Sub(prev.LastHeartbeat))
	if el <= 0 {
		return
	}
	us := int64(n.Workers) * el.Microseconds()
	for _, b := range tx.e.stats.at(tx.now) {
		statDimOf(&b.Nodes, n.ID, archivist.MaxStatsNodes).Worker += us
	}
}

// Stats answers from the rollups in memory.
func (e *engine) Stats(ctx context.Context, q archivist.StatsQuery) (*archivist.Stats, error) {
	q, res, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	var out *archivist.Stats
	err = e.view(func() error {
		tier := e.stats.tiers[tierOf(res)]
		bs := make([]*statBucket, 0, len(tier))
		for _, b := range tier {
			bs = append(bs, b)
		}
		out = buildStats(q, res, e.opts.Now(), bs)
		return nil
	})
	return out, err
}
