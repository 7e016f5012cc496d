package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTypeScriptClient runs the TypeScript client's checks
// (clients/typescript): its generated code is what the schema and its
// operations give, it type-checks (tests and examples too), and its Vitest
// suite passes against real archivist processes of this build (submit,
// wait with progress, listing, control, watches, a node killed and
// restarted in the middle of subscriptions, errors and their codes, API
// keys, every other part of the API, the examples, and npm pack making a
// package that installs and runs). It needs Node.js and
// clients/typescript/node_modules (cd clients/typescript && npm ci);
// without them it is skipped, except under CI, where it fails.
func TestTypeScriptClient(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node.js and archivist processes")
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "clients", "typescript"))
	if err != nil {
		t.Fatal(err)
	}
	nodeBin, err := exec.LookPath("node")
	var missing []string
	if err != nil {
		missing = append(missing, "node (Node.js 20 or newer)")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		missing = append(missing, "npm")
	}
	for _, pkg := range []string{"vitest", "typescript", "@graphql-codegen/core", "ws"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err != nil {
			missing = append(missing, "clients/typescript/node_modules/"+pkg+" (run: cd clients/typescript && npm ci)")
			break
		}
	}
	if len(missing) > 0 {
		msg := "the TypeScript client's tests need: " + strings.Join(missing, "; ")
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	run := func(t *testing.T, timeout time.Duration, env []string, args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, nodeBin, args...)
		cmd.Dir = dir
		cmd.Env = append(append(os.Environ(), "NO_COLOR=1", "FORCE_COLOR=0"), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("%s:\n%s", strings.Join(args, " "), lastLines(string(out), 8))
	}
	t.Run("generated code up to date", func(t *testing.T) {
		run(t, time.Minute, nil, filepath.Join("scripts", "generate.mjs"), "--check")
	})
	t.Run("typecheck", func(t *testing.T) {
		run(t, 2*time.Minute, nil, filepath.Join("node_modules", "typescript", "bin", "tsc"), "--noEmit")
	})
	t.Run("vitest", func(t *testing.T) {
		run(t, 8*time.Minute, []string{"ARCHIVIST_BIN=" + binPath},
			filepath.Join("node_modules", "vitest", "vitest.mjs"), "run", "--reporter=verbose")
	})
}
