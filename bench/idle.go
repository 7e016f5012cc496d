package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/rpg-archivist/archivist"
)

// idleResult is what a node with nothing to do costs.
type idleResult struct {
	System       string  `json:"system"`
	RSSMB        float64 `json:"rssMb"`
	CPUPercent   float64 `json:"cpuPercentOfOneCore"`
	RedisCmdsSec float64 `json:"redisCommandsPerSec"`
	RedisCPUPct  float64 `json:"redisCpuPercent"`
	Seconds      float64 `json:"seconds"`
}

// idle measures one process after it settled, over the idle window.
func (b *bench) idle(ctx context.Context, system string, pid int, redisUsed bool) (idleResult, error) {
	r := idleResult{System: system}
	time.Sleep(b.cfg.IdleSettle)
	before, err := b.redis.stats(ctx)
	if err != nil {
		return r, err
	}
	cpu0, err := procCPU(pid)
	if err != nil {
		return r, err
	}
	t0 := time.Now()
	time.Sleep(b.cfg.IdleWindow)
	cpu1, err := procCPU(pid)
	if err != nil {
		return r, err
	}
	after, err := b.redis.stats(ctx)
	if err != nil {
		return r, err
	}
	el := time.Since(t0).Seconds()
	rss, _, err := procMem(pid)
	if err != nil {
		return r, err
	}
	r.RSSMB = mb(rss)
	r.CPUPercent = 100 * (cpu1 - cpu0).Seconds() / el
	r.Seconds = el
	if redisUsed {
		d := after.sub(before)
		r.RedisCmdsSec = float64(d.Commands) / el
		r.RedisCPUPct = 100 * d.CPU.Seconds() / el
	}
	return r, nil
}

func (b *bench) idleArchivistRedis(ctx context.Context) (idleResult, error) {
	return b.idleRedis(ctx, 0)
}

// idleSchedules is how many hourly schedules the "with schedules" idle run
// holds: a leader waits for the nearest tick, it does not poll them.
const idleSchedules = 100

func (b *bench) idleArchivistRedisSchedules(ctx context.Context) (idleResult, error) {
	return b.idleRedis(ctx, idleSchedules)
}

func (b *bench) idleRedis(ctx context.Context, schedules int) (idleResult, error) {
	if err := b.redis.flush(ctx); err != nil {
		return idleResult{}, err
	}
	if schedules > 0 {
		st, err := b.openRedisStore(ctx)
		if err != nil {
			return idleResult{}, err
		}
		next := time.Now().Add(time.Hour)
		for i := range schedules {
			err = st.CreateSchedule(ctx, &archivist.Schedule{Name: fmt.Sprintf("hourly-%03d", i), Every: time.Hour,
				NextRunAt: next, Overlap: archivist.OverlapAllow, Misfire: archivist.MisfireRunOnce,
				Task: &archivist.Task{Type: "echo", Priority: archivist.PriorityNormal, Timeout: time.Minute, MaxRetries: 3}})
			if err != nil {
				break
			}
		}
		st.Close()
		if err != nil {
			return idleResult{}, fmt.Errorf("create schedules: %w", err)
		}
	}
	nodes, err := b.startNodes(1, func(int) nodeSpec {
		return nodeSpec{Store: b.redis.URL(), Cluster: benchCluster, ID: "node-1"}
	})
	defer stopNodes(nodes)
	if err != nil {
		return idleResult{}, err
	}
	name := "archivist (redis)"
	if schedules > 0 {
		name = fmt.Sprintf("archivist (redis), %d hourly schedules", schedules)
	}
	return b.idle(ctx, name, nodes[0].Pid(), true)
}

func (b *bench) idleArchivistEmbedded(ctx context.Context) (idleResult, error) {
	dir, err := tmpDir(b.tmp, "idle")
	if err != nil {
		return idleResult{}, err
	}
	nodes, err := b.startNodes(1, func(int) nodeSpec {
		return nodeSpec{Store: "bolt:" + filepath.Join(dir, "archivist.db"), ID: "node-1"}
	})
	defer stopNodes(nodes)
	if err != nil {
		return idleResult{}, err
	}
	return b.idle(ctx, "archivist (embedded)", nodes[0].Pid(), false)
}

func (b *bench) idleAsynq(ctx context.Context) (idleResult, error) {
	if err := b.redis.flush(ctx); err != nil {
		return idleResult{}, err
	}
	p, err := startAsynq(b.asynqBin, asynqCommand{Op: "idle", Redis: b.redis.Addr, Concurrency: b.cfg.Concurrency})
	if err != nil {
		return idleResult{}, err
	}
	defer p.finish()
	return b.idle(ctx, "asynq", p.Pid(), true)
}
