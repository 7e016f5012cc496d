package app

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/rpg-archivist/archivist"
)

// TestQuietUnavailable: a line that carries an UNAVAILABLE error goes to
// debug level (dropped at info), others keep their level, through With too.
func TestQuietUnavailable(t *testing.T) {
	unreachable := fmt.Errorf("redis store: list nodes: %w",
		errors.Join(archivist.Errorf(archivist.CodeUnavailable, "the Redis store at 127.0.0.1:1 cannot be reached"), errors.New("dial tcp: connection refused")))
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		var buf bytes.Buffer
		log := quietLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level}))).With("node", "a")
		log.Error("claim tasks", "err", unreachable)
		log.Error("claim tasks", "err", errors.New("disk on fire"))
		log.Warn("leader campaign failed", "err", archivist.Errorf(archivist.CodeConflict, "lost"))
		out := buf.String()
		if !strings.Contains(out, "level=ERROR msg=\"claim tasks\" node=a err=\"disk on fire\"") || !strings.Contains(out, "level=WARN") {
			t.Errorf("at %s, other lines changed:\n%s", level, out)
		}
		quiet := strings.Contains(out, "cannot be reached")
		if level == slog.LevelInfo && quiet {
			t.Errorf("at info, the UNAVAILABLE line was logged:\n%s", out)
		}
		if level == slog.LevelDebug && !strings.Contains(out, "level=DEBUG msg=\"claim tasks\" node=a err=\"redis store: list nodes: the Redis store") {
			t.Errorf("at debug, the UNAVAILABLE line is not at debug level:\n%s", out)
		}
	}
	if l := quietLogger(slog.Default()); quietLogger(l) != l {
		t.Error("quietLogger wraps twice")
	}
}
