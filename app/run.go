// Package app is an Archivist node put together: options from flags, the
// environment and a config file; every part built, started in order and
// stopped in reverse (Main); and the command line of the archivist binary
// (Run), which runs a node itself and hands the client commands to package
// cli. A program that needs task types of its own calls Run with
// WithTaskTypes, as cmd/archivist does without.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/cli"
	"github.com/rpg-archivist/archivist/tracing"
)

// Version is set at build time with
// -ldflags "-X github.com/rpg-archivist/archivist/app.Version=...".
var Version = "dev"

const usage = `Archivist: a distributed task-processing cluster.

Usage:
  archivist serve [flags]                 run a node (archivist serve -h lists the flags)
  archivist submit TYPE [--input JSON]    submit a task; --wait follows it to its result
  archivist tasks list|get|cancel|retry   list and manage tasks
  archivist groups                        tasks per group (campaign), busiest first
  archivist schedule create|list|...      recurring tasks: cron or every, pause, trigger
  archivist workflow submit FILE [--wait] a graph of tasks from a YAML file; list, show, cancel, retry
  archivist nodes list|drain|resume       list and manage nodes
  archivist limits list|set|delete        concurrency and rate limits per task type and group
  archivist types list|pause|resume       task types; pause one (its tasks queue, none is placed)
  archivist config get|set|init           read or change the cluster config; write a config file
  archivist stats [--window 1h]           throughput and latency per bucket, task type and node
  archivist watch [tasks|nodes]           stream changes live
  archivist token create --role ROLE      make an API key (viewer, operator or admin)
  archivist completion bash|zsh           shell completion script
  archivist version                       print the version

With no flags, serve runs a hybrid node on the embedded store with the API,
the GraphQL playground and the dashboard on http://127.0.0.1:8080. The client
commands talk to --server (ARCHIVIST_SERVER, default http://127.0.0.1:8080)
with --token (ARCHIVIST_TOKEN); -o json prints JSON. Each command's -h shows
examples.
`

// Option changes how Run builds a node.
type Option func(*Main)

// WithTaskTypes registers more task types (next to the built-in ones) on
// every node Run starts.
func WithTaskTypes(register func(*archivist.Registry)) Option {
	return func(m *Main) { register(m.Registry) }
}

// Run is the archivist command line: args without the program name. It
// returns the exit code.
func Run(args []string, getenv func(string) string, stdout, stderr io.Writer, options ...Option) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "archivist %s\n", Version)
		return 0
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	case "serve":
		return serve(args[1:], getenv, stderr, options)
	}
	// The client commands (package cli).
	if code, ok := cli.Run(args, cli.Env{Getenv: getenv, Stdout: stdout, Stderr: stderr, ConfigFile: ConfigFile}); ok {
		return code
	}
	fmt.Fprintf(stderr, "archivist: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func serve(args []string, getenv func(string) string, stderr io.Writer, options []Option) int {
	opts, err := parseServe(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "archivist serve: %v\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return 2
	}
	logger := newLogger(opts, stderr)
	shutdownTracing, traced, err := tracing.Setup(context.Background(), getenv, tracing.Service{Version: Version, InstanceID: opts.NodeID, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "archivist serve: %v\n", err)
		return 2
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownTracing(ctx); err != nil {
			logger.Warn("tracing: the last spans were not exported", "err", err)
		}
	}()
	if traced {
		logger.Info("tracing on: spans go over OTLP/HTTP as the OTEL_* environment says")
	}
	m := NewMain(opts, logger)
	for _, o := range options {
		o(m)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		logger.Error("node did not start", "err", err)
		_ = m.Close(context.Background())
		return 1
	}
	// SIGHUP reloads the API keys.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-hup:
			if err := m.ReloadKeys(); err != nil {
				logger.Error("API keys not reloaded", "err", err)
			}
		}
	}
	stop()
	logger.Info("shutting down: no new tasks; running ones get a grace period", "grace", opts.ShutdownGrace)
	if err := m.Close(context.Background()); err != nil {
		logger.Error("shutdown", "err", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("--log-level %q: use debug, info, warn or error", s)
	}
	return l, nil
}

func newLogger(o *Options, w io.Writer) *slog.Logger {
	level, _ := parseLevel(o.LogLevel)
	hopts := &slog.HandlerOptions{Level: level}
	// The tracing handler adds trace_id and span_id while a trace is active.
	if o.LogFormat == "json" {
		return slog.New(tracing.LogHandler(slog.NewJSONHandler(w, hopts)))
	}
	return slog.New(tracing.LogHandler(slog.NewTextHandler(w, hopts)))
}
