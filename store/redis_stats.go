package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist"
)

// Stats reads the statistics buckets of the window (one HGETALL each, in
// one pipeline) at the server's time, so that every node answers the same.
func (r *Redis) Stats(ctx context.Context, q archivist.StatsQuery) (*archivist.Stats, error) {
	q, res, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	if err := r.read(); err != nil {
		return nil, err
	}
	pipe := r.client.Pipeline()
	timeCmd := pipe.Time(ctx)
	rolledCmd := pipe.Get(ctx, r.keys.prefix+"stats:rolled")
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, r.mapErr("stats", err)
	}
	now := timeCmd.Val()
	bs := int64(q.Bucket / time.Second)
	n := int64((q.Window + q.Bucket - 1) / q.Bucket)
	end := (now.Unix()/bs + 1) * bs
	from := end - n*bs
	fine := int64(statTiers[0].res / time.Second)
	var cmds []*redis.MapStringStringCmd
	var starts []int64
	read := func(step, from, end int64) {
		for s := from; s < end; s += step {
			cmds = append(cmds, pipe.HGetAll(ctx, r.keys.stats(step, s)))
			starts = append(starts, s)
		}
	}
	if tierOf(res) == 0 {
		read(fine, from, end)
	} else {
		// The coarse buckets hold the fine ones rolled up so far; the fine
		// ones after them (the last few seconds, or the last hour when
		// nothing was rolled up yet) are read too.
		tail := now.Unix() - now.Unix()%fine - int64(statTiers[0].keep/time.Second)
		if rolled, err := strconv.ParseInt(rolledCmd.Val(), 10, 64); err == nil {
			read(int64(res/time.Second), from, min(end, rolled+fine))
			tail = max(tail, rolled+fine)
		}
		read(fine, max(from, tail), end)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, r.mapErr("stats", err)
	}
	buckets := make([]*statBucket, 0, len(cmds))
	for i, c := range cmds {
		fields := c.Val()
		if len(fields) == 0 {
			continue
		}
		b, err := decodeStatBucket(starts[i], fields)
		if err != nil {
			return nil, fmt.Errorf("redis store: stats bucket %d: %w", starts[i], err)
		}
		buckets = append(buckets, b)
	}
	return buildStats(q, res, now, buckets), nil
}

// decodeStatBucket reads a bucket HASH as lua/lib.lua writes it.
func decodeStatBucket(start int64, fields map[string]string) (*statBucket, error) {
	b := &statBucket{Start: start}
	for f, v := range fields {
		if f == "s" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("field s: %w", err)
			}
			b.G.Submitted += n
			continue
		}
		d, err := decodeStatDim(v)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f, err)
		}
		switch {
		case f == "g":
			d.Submitted += b.G.Submitted
			b.G = *d
		case strings.HasPrefix(f, "t:"):
			if b.Types == nil {
				b.Types = map[string]*statDim{}
			}
			b.Types[f[2:]] = d
		case strings.HasPrefix(f, "n:"):
			if b.Nodes == nil {
				b.Nodes = map[string]*statDim{}
			}
			b.Nodes[f[2:]] = d
		case strings.HasPrefix(f, "g:"):
			if b.Groups == nil {
				b.Groups = map[string]*statDim{}
			}
			b.Groups[f[2:]] = d
		}
	}
	// The cluster's outcomes are the sum of its types' (lua/lib.lua records
	// them once, per type); the submissions are the counter s.
	for _, d := range b.Types {
		b.G.Completed += d.Completed
		b.G.Failed += d.Failed
		b.G.Wait.merge(d.Wait)
		b.G.Run.merge(d.Run)
	}
	return b, nil
}

// decodeStatDim reads [submitted, completed, failed, busy, worker, wait
// bins, run bins, ...].
func decodeStatDim(v string) (*statDim, error) {
	r := &mpReader{b: stringBytes(v)}
	n := r.arrayLen()
	if r.err == nil && n < 7 {
		return nil, fmt.Errorf("msgpack: %d items, want at least 7", n)
	}
	d := &statDim{Submitted: r.int(), Completed: r.int(), Failed: r.int(), Busy: r.int(), Worker: r.int()}
	for _, h := range []*statHist{&d.Wait, &d.Run} {
		k := r.arrayLen()
		for j := 0; j+1 < k; j += 2 {
			bin, c := r.int(), r.int()
			if *h == nil {
				*h = statHist{}
			}
			(*h)[int(bin)] += c
		}
		if k%2 == 1 {
			r.int()
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return d, nil
}
