package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// submitResult is the submission rate of one way in, over several runs.
type submitResult struct {
	Mode    string    `json:"mode"`
	Clients int       `json:"clients"`
	Batch   int       `json:"batch"`
	Runs    []float64 `json:"tasksPerSec"`
	Median  float64   `json:"medianTasksPerSec"`
}

// Ways in, each as fast as its clients go for the configured time.
var submitModes = []struct {
	Name    string
	Clients int
	Batch   int
}{
	{"graphql submitTask", 16, 1},
	{"graphql submitTasks", 4, 100},
	{"go CreateTasks", 16, 1},
	// The same with each task's own unique key (checked and taken in the
	// create script), and with a delay (SCHEDULED, indexed by due time).
	{"go CreateTasks unique", 16, 1},
	{"go CreateTasks delayed", 16, 1},
	{"go CreateTasks batch", 2, 1000},
	{"asynq Enqueue", 16, 1},
}

// submitRun measures one mode. Archivist runs one node on Redis with the
// master role: it takes submissions and leads, but no node runs tasks, so
// that the figure is the submission path alone.
func (b *bench) submitRun(ctx context.Context, mode string, clients, batch int) (float64, error) {
	if err := b.redis.flush(ctx); err != nil {
		return 0, err
	}
	d := b.cfg.SubmitDuration
	if mode == "asynq Enqueue" {
		p, err := startAsynq(b.asynqBin, asynqCommand{Op: "enqueue", Redis: b.redis.Addr,
			DurationMS: int(d / time.Millisecond), Senders: clients})
		if err != nil {
			return 0, err
		}
		defer p.finish()
		res, err := p.goAndWait(d + time.Minute)
		if err != nil {
			return 0, err
		}
		return float64(res.Enqueued) / res.Seconds, nil
	}
	nodes, err := b.startNodes(1, func(int) nodeSpec {
		return nodeSpec{Store: b.redis.URL(), Cluster: benchCluster, ID: "node-1", Role: "master"}
	})
	defer stopNodes(nodes)
	if err != nil {
		return 0, err
	}
	var send func() error
	switch {
	case strings.HasPrefix(mode, "graphql"):
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
		defer hc.CloseIdleConnections()
		url := "http://" + nodes[0].HTTP + "/graphql"
		if batch == 1 {
			send = func() error {
				return gqlPost(ctx, hc, url, `mutation { submitTask(input: {type: "echo", input: {}}) { id } }`, nil, nil)
			}
		} else {
			inputs := make([]map[string]any, batch)
			for i := range inputs {
				inputs[i] = map[string]any{"type": "echo", "input": json.RawMessage(`{}`)}
			}
			vars := map[string]any{"in": inputs}
			send = func() error {
				return gqlPost(ctx, hc, url, `mutation($in: [SubmitTaskInput!]!) { submitTasks(inputs: $in) { id } }`, vars, nil)
			}
		}
	default:
		st, err := b.openRedisStore(ctx)
		if err != nil {
			return 0, err
		}
		defer st.Close()
		send = func() error {
			ts := newTasks(batch)
			for _, t := range ts {
				switch {
				case strings.HasSuffix(mode, " unique"):
					t.UniqueKey = "bench:" + t.ID
				case strings.HasSuffix(mode, " delayed"):
					t.Delay = time.Hour
				}
			}
			return st.CreateTasks(ctx, ts)
		}
	}
	var n atomic.Int64
	var firstErr atomic.Value
	begin := time.Now()
	stop := begin.Add(d)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for time.Now().Before(stop) {
				if err := send(); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				n.Add(int64(batch))
			}
		})
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return 0, err
	}
	return float64(n.Load()) / time.Since(begin).Seconds(), nil
}
