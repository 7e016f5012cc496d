package client_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/client"
)

func TestBulkTasks(t *testing.T) {
	c := client.New(server)
	msg := fmt.Sprintf("bulk-client-%d", time.Now().UnixNano())
	none := 0
	var ids []string
	for range 3 {
		task, err := c.Submit(ctx(t), client.TaskSpec{Type: "fail", Input: json.RawMessage(`{"times": 9, "message": "` + msg + `"}`), MaxRetries: &none})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, task.ID)
	}
	waitFailed := func() {
		t.Helper()
		for _, id := range ids {
			if done, _ := c.Wait(ctx(t), id, nil); done == nil || done.Status != client.StatusFailed {
				t.Fatalf("task %s ended %+v, want FAILED", id, done)
			}
		}
	}
	waitFailed()
	f := client.Filter{Search: msg}
	if n, err := c.CountTasks(ctx(t), f); err != nil || n != 3 {
		t.Fatalf("CountTasks: %d, %v; want 3", n, err)
	}
	if n, err := c.RetryTasks(ctx(t), f); err != nil || n != 3 {
		t.Fatalf("RetryTasks: %d, %v; want 3", n, err)
	}
	waitFailed() // they ran again
	if n, err := c.DeleteTasks(ctx(t), f); err != nil || n != 3 {
		t.Fatalf("DeleteTasks: %d, %v; want 3", n, err)
	}
	if n, err := c.CountTasks(ctx(t), f); err != nil || n != 0 {
		t.Errorf("CountTasks after DeleteTasks: %d, %v; want 0", n, err)
	}

	for range 2 {
		if _, err := c.Submit(ctx(t), client.TaskSpec{Type: "echo", Delay: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	later := client.Filter{Type: "echo", Status: []string{"SCHEDULED"}}
	if n, err := c.CancelTasks(ctx(t), later); err != nil || n != 2 {
		t.Fatalf("CancelTasks: %d, %v; want 2", n, err)
	}
	if n, err := c.CountTasks(ctx(t), later); err != nil || n != 0 {
		t.Errorf("SCHEDULED echo tasks after CancelTasks: %d, %v; want 0", n, err)
	}
}

func TestBulkStatuses(t *testing.T) {
	for _, c := range []struct {
		op   string
		in   []string
		want []string
	}{
		{"cancel", nil, []string{"SCHEDULED", "WAITING", "PENDING", "ASSIGNED", "IN_PROGRESS", "RETRYING"}},
		{"retry", nil, []string{"FAILED", "CANCELLED", "TIMED_OUT"}},
		{"delete", nil, []string{"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"}},
		{"retry", []string{"TIMED_OUT", "PENDING", "FAILED"}, []string{"TIMED_OUT", "FAILED"}},
		{"cancel", []string{"COMPLETED"}, nil},
	} {
		if got := client.BulkStatuses(c.op, c.in); !slices.Equal(got, c.want) {
			t.Errorf("BulkStatuses(%s, %v) = %v, want %v", c.op, c.in, got, c.want)
		}
	}
}
