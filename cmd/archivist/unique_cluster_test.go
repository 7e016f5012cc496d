package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// TestClusterUniqueKeyAcrossNodes: many clients submit the same unique key
// through three nodes on one Redis at once and all get the same task, the
// only one stored; a debounce (REPLACE with a delay) sent through the three
// nodes in turn leaves one SCHEDULED task, the last.
func TestClusterUniqueKeyAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	r := redistest.Start(t)
	nodes := []*node{
		startNode(t, clusterArgs(r.URL(), "u1")...),
		startNode(t, clusterArgs(r.URL(), "u2")...),
		startNode(t, clusterArgs(r.URL(), "u3")...),
	}
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, nodes[0])) == 3 }, "three online nodes")

	type answer struct {
		ID        string
		Duplicate bool
		Status    string
	}
	submit := func(n *node, in map[string]any) (answer, error) {
		body, _ := json.Marshal(map[string]any{
			"query":     `mutation($in: SubmitTaskInput!) { submitTask(input: $in) { id duplicate status } }`,
			"variables": map[string]any{"in": in},
		})
		resp, err := http.Post("http://"+n.addr+"/graphql", "application/json", bytes.NewReader(body))
		if err != nil {
			return answer{}, err
		}
		defer resp.Body.Close()
		var out struct {
			Data   struct{ SubmitTask answer }
			Errors []struct{ Message string }
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return answer{}, err
		}
		if len(out.Errors) > 0 {
			return answer{}, fmt.Errorf("%s", out.Errors[0].Message)
		}
		return out.Data.SubmitTask, nil
	}

	const clients = 30
	answers := make([]answer, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range clients {
		wg.Go(func() {
			<-start
			answers[i], errs[i] = submit(nodes[i%len(nodes)], map[string]any{
				"type": "sleep", "input": map[string]any{"ms": 1000}, "uniqueKey": "thumbnail:handout-42"})
		})
	}
	close(start)
	wg.Wait()
	created := 0
	for i := range answers {
		if errs[i] != nil {
			t.Fatalf("client %d: %v", i, errs[i])
		}
		if answers[i].ID != answers[0].ID {
			t.Fatalf("client %d got task %s, client 0 got %s: want one task", i, answers[i].ID, answers[0].ID)
		}
		if !answers[i].Duplicate {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d answers say they created the task, want exactly 1 (the others duplicates)", created)
	}
	var all struct{ Tasks struct{ TotalCount int } }
	nodes[2].gql(t, `{ tasks(first: 0) { totalCount } }`, nil, &all)
	if all.Tasks.TotalCount != 1 {
		t.Errorf("%d tasks stored, want 1", all.Tasks.TotalCount)
	}

	// Debounce: each edit, through another node, replaces the last.
	var last answer
	for i := range 6 {
		a, err := submit(nodes[i%len(nodes)], map[string]any{"type": "echo", "input": i, "uniqueKey": "reindex:note-9",
			"onDuplicate": "REPLACE", "delaySeconds": 3600})
		if err != nil || a.Duplicate || a.Status != "SCHEDULED" {
			t.Fatalf("edit %d: %+v %v; want a new SCHEDULED task", i, a, err)
		}
		last = a
	}
	var sched struct {
		Tasks struct {
			TotalCount int
			Edges      []struct{ Node struct{ ID string } }
		}
	}
	nodes[0].gql(t, `{ tasks(filter: {status: [SCHEDULED]}) { totalCount edges { node { id } } } }`, nil, &sched)
	if sched.Tasks.TotalCount != 1 || len(sched.Tasks.Edges) != 1 || sched.Tasks.Edges[0].Node.ID != last.ID {
		t.Errorf("SCHEDULED after six debounced edits: %+v, want only the last, %s", sched.Tasks, last.ID)
	}
}
