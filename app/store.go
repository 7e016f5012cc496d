package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/store"
)

// openStore opens the store --store names. A Redis that does not answer is
// retried with backoff until --connect-timeout, saying so at each try, so
// that a node started before its Redis waits for it instead of crash-looping.
func openStore(ctx context.Context, o *Options, log *slog.Logger) (archivist.Store, error) {
	sopts := store.Options{Logger: log}
	if !store.IsRedisURL(o.Store) {
		return store.Open(o.Store, sopts)
	}
	if _, err := store.ParseRedisURL(o.Store); err != nil {
		return nil, fmt.Errorf("--store: %w", err)
	}
	deadline := time.Now().Add(o.ConnectTimeout)
	wait := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		octx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := store.OpenRedis(octx, store.RedisOptions{URL: o.Store, Cluster: o.Cluster, Options: sopts})
		cancel()
		if err == nil {
			if attempt > 1 {
				log.Info("connected to Redis", "attempts", attempt)
			}
			return st, nil
		}
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			return nil, fmt.Errorf("cannot reach Redis after %d attempts in %s: %w", attempt, o.ConnectTimeout, err)
		}
		wait = min(wait, left)
		// The error as text: at start this line is all the user sees of the
		// wait, and an UNAVAILABLE error value would send it to debug level
		// (quietUnavailable, app/storehealth.go).
		log.Warn("cannot reach Redis; retrying", "in", wait.Round(time.Millisecond), "attempt", attempt, "err", err.Error())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}
