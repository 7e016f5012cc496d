package storetest

import (
	"testing"

	"github.com/rpg-archivist/archivist"
)

// testClosed: a closed store is unavailable, not broken: every call fails
// with UNAVAILABLE (as when Redis cannot be reached), and a second Close is
// harmless.
func testClosed(t *testing.T, s suite) {
	s.run(t, "calls after Close fail with UNAVAILABLE", func(t *testing.T, h *fixture) {
		if err := h.s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		ctx := t.Context()
		_, err := h.s.GetTask(ctx, "x")
		check := func(what string, err error) {
			t.Helper()
			if !archivist.IsCode(err, archivist.CodeUnavailable) {
				t.Errorf("%s after Close: %v (code %s), want UNAVAILABLE", what, err, archivist.ErrorCodeOf(err))
			}
		}
		check("GetTask", err)
		check("CreateTasks", h.s.CreateTasks(ctx, []*archivist.Task{{ID: "c1", Type: "t", Priority: archivist.PriorityNormal}}))
		_, err = h.s.ListNodes(ctx)
		check("ListNodes", err)
		_, err = h.s.Subscribe(ctx, 0)
		check("Subscribe", err)
		check("CreateSchedule", h.s.CreateSchedule(ctx, newSchedule("s", tick0())))
		_, err = h.s.ListSchedules(ctx)
		check("ListSchedules", err)
		_, err = h.s.GetSchedule(ctx, "s")
		check("GetSchedule", err)
	})
}
