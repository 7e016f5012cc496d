package app

import (
	"context"
	"log/slog"

	"github.com/rpg-archivist/archivist"
)

// While the store cannot be reached, every part of the node (heartbeat,
// elector, scheduler, worker pool, alerts) fails at each of its ticks. The
// store logs the outage once when it begins and once when it ends; the
// parts' own lines about it would repeat that every second, so they go to
// debug level. quietUnavailable is a slog.Handler that does this: a record
// that carries an error with code UNAVAILABLE is logged at debug level.
type quietUnavailable struct{ slog.Handler }

func (h quietUnavailable) Handle(ctx context.Context, r slog.Record) error {
	if r.Level > slog.LevelDebug && carriesUnavailable(r) {
		if !h.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

// Enabled says yes to what the handler would take at debug level too: the
// level of a record is only final in Handle.
func (h quietUnavailable) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, l)
}

func (h quietUnavailable) WithAttrs(as []slog.Attr) slog.Handler {
	return quietUnavailable{h.Handler.WithAttrs(as)}
}

func (h quietUnavailable) WithGroup(name string) slog.Handler {
	return quietUnavailable{h.Handler.WithGroup(name)}
}

func carriesUnavailable(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && archivist.IsCode(err, archivist.CodeUnavailable) {
			found = true
		}
		return !found
	})
	return found
}

// quietLogger wraps logger's handler in quietUnavailable, once.
func quietLogger(logger *slog.Logger) *slog.Logger {
	if _, ok := logger.Handler().(quietUnavailable); ok {
		return logger
	}
	return slog.New(quietUnavailable{logger.Handler()})
}
