package chaos

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/redistest"
)

// TestChaos runs the harness for real: three nodes on a standalone Redis
// under faults for 30 s (CHAOS_DURATION to change it; CHAOS_SEED to
// reproduce a run, CHAOS_TOPOLOGY=cluster for Redis Cluster). make chaos
// runs the three-minute version through cmd/archivist-chaos.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos run with real processes")
	}
	redistest.Need(t)
	o := Options{Duration: 30 * time.Second, Topology: os.Getenv("CHAOS_TOPOLOGY"), Settle: 2 * time.Minute}
	if d := os.Getenv("CHAOS_DURATION"); d != "" {
		var err error
		if o.Duration, err = time.ParseDuration(d); err != nil {
			t.Fatalf("CHAOS_DURATION: %v", err)
		}
	}
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		var err error
		if o.Seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("CHAOS_SEED: %v", err)
		}
	}
	o.Bin = filepath.Join(t.TempDir(), "archivist")
	args := []string{"build", "-o", o.Bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "../../cmd/archivist")...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build archivist: %v\n%s", err, out)
	}
	var out bytes.Buffer
	o.Out = &out
	o.Dir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), o.Duration+o.Settle+3*time.Minute)
	defer cancel()
	res, err := Run(ctx, o)
	t.Logf("\n%s", out.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if len(res.Violations) > 0 {
		if log, err := os.ReadFile(filepath.Join(o.Dir, "nodes.log")); err == nil {
			t.Logf("nodes' logs (last lines):\n%s", lastLines(string(log), 200))
		}
		t.Fatalf("%d invariant(s) broken (seed %d)", len(res.Violations), res.Seed)
	}
	if res.Figures.Tasks == 0 || len(res.History.Faults) == 0 {
		t.Fatalf("nothing tested: %d tasks, %d faults", res.Figures.Tasks, len(res.History.Faults))
	}
}
