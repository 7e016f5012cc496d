package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/client"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

func TestSchedules(t *testing.T) {
	t.Parallel()
	c := client.New(server)
	retries := 1
	s, err := c.CreateSchedule(ctx(t), client.ScheduleSpec{Name: "client-cron", Cron: "0 3 * * *", Timezone: "Europe/Paris",
		Task: client.TaskSpec{Type: "echo", Input: json.RawMessage(`"hi"`), Priority: "HIGH", MaxRetries: &retries,
			Timeout: 20 * time.Second, RetryBackoff: 2 * time.Second},
		Overlap: "SKIP", Misfire: "SKIP", Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Cron != "0 3 * * *" || s.Timezone != "Europe/Paris" || s.Every != "" || !s.Paused || s.NextRunAt != nil ||
		s.Task.Type != "echo" || s.Task.Priority != "HIGH" || s.Task.MaxRetries != 1 || s.Task.TimeoutSeconds != 20 ||
		s.Task.RetryBackoffMs == nil || *s.Task.RetryBackoffMs != 2000 || s.Overlap != "SKIP" || s.Misfire != "SKIP" {
		t.Fatalf("created %+v", s)
	}
	if _, err := c.CreateSchedule(ctx(t), client.ScheduleSpec{Name: "client-cron", Every: time.Minute, Task: client.TaskSpec{Type: "echo"}}); client.CodeOf(err) != client.CodeConflict {
		t.Errorf("a taken name: %v, want CONFLICT", err)
	}
	if _, err := c.Schedule(ctx(t), "client-none"); !client.IsNotFound(err) {
		t.Errorf("an unknown schedule: %v, want NOT_FOUND", err)
	}

	// Update replaces the definition, keeps it paused; resume gives a next run.
	s, err = c.UpdateSchedule(ctx(t), client.ScheduleSpec{Name: "client-cron", Every: 90 * time.Second, Task: client.TaskSpec{Type: "echo"}})
	if err != nil || s.Every != "1m30s" || s.Cron != "" || s.Timezone != "" || !s.Paused || s.Overlap != "ALLOW" {
		t.Fatalf("updated %+v, %v", s, err)
	}
	if s, err = c.ResumeSchedule(ctx(t), "client-cron"); err != nil || s.Paused || s.NextRunAt == nil {
		t.Fatalf("resumed %+v, %v", s, err)
	}
	if s, err = c.PauseSchedule(ctx(t), "client-cron"); err != nil || !s.Paused {
		t.Fatalf("paused %+v, %v", s, err)
	}

	task, err := c.TriggerSchedule(ctx(t), "client-cron")
	if err != nil || task.Schedule != "client-cron" || task.Type != "echo" {
		t.Fatalf("triggered %+v, %v", task, err)
	}
	if _, err := c.Wait(ctx(t), task.ID, nil); err != nil {
		t.Fatal(err)
	}
	page, err := c.List(ctx(t), client.Filter{Schedule: "client-cron"}, 0, "")
	if err != nil || len(page.Tasks) != 1 || page.Tasks[0].ID != task.ID {
		t.Fatalf("tasks of the schedule: %+v, %v", page, err)
	}
	s, err = c.Schedule(ctx(t), "client-cron")
	if err != nil || s.LastTask == nil || s.LastTask.ID != task.ID || s.LastTask.Status != client.StatusCompleted || s.LastRunAt == nil {
		t.Fatalf("after the trigger: %+v, %v", s, err)
	}

	// An every-second schedule runs on the node.
	if _, err := c.CreateSchedule(ctx(t), client.ScheduleSpec{Name: "client-every", Every: time.Second, Task: client.TaskSpec{Type: "echo"}}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, func() bool {
		p, err := c.List(ctx(t), client.Filter{Schedule: "client-every"}, 0, "")
		return err == nil && len(p.Tasks) >= 2
	}, "two ticks of client-every")

	list, err := c.Schedules(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list {
		names = append(names, s.Name)
	}
	if len(names) < 2 || names[0] != "client-cron" || names[1] != "client-every" {
		t.Errorf("schedules %q", names)
	}
	for _, name := range []string{"client-cron", "client-every"} {
		if err := c.DeleteSchedule(ctx(t), name); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.DeleteSchedule(ctx(t), "client-cron"); !client.IsNotFound(err) {
		t.Errorf("deleting twice: %v, want NOT_FOUND", err)
	}
}

// Rebuild an index every night at 03:00, Paris time.
func ExampleClient_CreateSchedule() {
	c := client.New(server)
	ctx := context.Background()
	s, err := c.CreateSchedule(ctx, client.ScheduleSpec{
		Name:     "example-nightly",
		Cron:     "0 3 * * *",
		Timezone: "Europe/Paris",
		Task:     client.TaskSpec{Type: "echo", Input: json.RawMessage(`{"campaign":7}`)},
		Overlap:  "SKIP",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Name, s.Cron, s.Timezone, s.Overlap, s.Misfire, s.NextRunAt.In(time.UTC).Hour() < 3)
	_ = c.DeleteSchedule(ctx, s.Name)
	// Output: example-nightly 0 3 * * * Europe/Paris SKIP RUN_ONCE true
}
