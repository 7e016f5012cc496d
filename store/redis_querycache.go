package store

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist"
)

// RedisQueryTTL is how long a persisted query stays in Redis after it was
// last stored or read: one that clients keep using stays, others expire.
const RedisQueryTTL = 24 * time.Hour

var _ archivist.QueryCache = (*Redis)(nil)

// query is the STRING holding the text of the persisted query whose hex
// SHA-256 is hash. It shares the cluster's hash tag, though no script
// touches it.
func (k redisKeys) query(hash string) string { return k.prefix + "query:" + hash }

// GetQuery reads a persisted query and renews its RedisQueryTTL (GETEX).
func (r *Redis) GetQuery(ctx context.Context, hash string) (string, bool, error) {
	if err := r.read(); err != nil {
		return "", false, err
	}
	if !archivist.ValidQueryHash(hash) {
		return "", false, nil
	}
	q, err := r.client.GetEx(ctx, r.keys.query(hash), RedisQueryTTL).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, r.mapErr("get query", err)
	}
	return q, true, nil
}

// PutQuery stores a persisted query for RedisQueryTTL, for every node of the
// cluster.
func (r *Redis) PutQuery(ctx context.Context, hash, query string) error {
	if err := r.read(); err != nil {
		return err
	}
	if err := archivist.CheckPersistedQuery(hash, query); err != nil {
		return err
	}
	if err := r.client.Set(ctx, r.keys.query(hash), query, RedisQueryTTL).Err(); err != nil {
		return r.mapErr("put query", err)
	}
	return nil
}
