package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
)

// BenchmarkMemoryTaskFlow is the engine's cost of one task from submission
// to completion (create, start, complete), batches of 100 submissions; with
// the statistics rollups, it shows what they add to the embedded store's
// transitions.
func BenchmarkMemoryTaskFlow(b *testing.B) {
	m := NewMemory(Options{})
	defer m.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for done := 0; done < b.N; {
		n := min(100, b.N-done)
		tasks := make([]*archivist.Task, n)
		for i := range tasks {
			tasks[i] = &archivist.Task{Type: "echo", Input: json.RawMessage(`{"n":1}`), Priority: archivist.PriorityNormal, Timeout: time.Minute}
		}
		if err := m.CreateTasks(ctx, tasks); err != nil {
			b.Fatal(err)
		}
		for _, t := range tasks {
			if _, err := m.ClaimTask(ctx, "n1", t.ID, time.Second); err != nil {
				b.Fatal(err)
			}
			if _, err := m.CompleteTask(ctx, t.ID, 1, json.RawMessage(`{"n":1}`)); err != nil {
				b.Fatal(err)
			}
		}
		done += n
	}
}
