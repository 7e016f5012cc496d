package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is the benchmark's own redis-server on a free loopback port
// (never 6379), shared by Archivist and asynq, emptied between runs.
type redisServer struct {
	Addr    string
	Version string
	cmd     *exec.Cmd
	client  *redis.Client
}

// startRedis runs redis-server with AOF on and fsync every second (Redis's
// default with appendonly, and what docs/cluster.md asks of a production
// Redis), with no RDB snapshots. The AOF is rewritten between runs (see
// flush), never during one: a rewrite forks a child that would compete
// for the same two cores at a random moment.
func startRedis(dir string) (*redisServer, error) {
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		if port == 6379 {
			continue
		}
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--dir", dir,
			"--auto-aof-rewrite-percentage", "0",
			"--protected-mode", "no", "--loglevel", "warning")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start redis-server (apt-get install redis-server): %w", err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		c := redis.NewClient(&redis.Options{Addr: addr})
		ok := false
		for range 100 {
			if c.Ping(context.Background()).Err() == nil {
				ok = true
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !ok {
			_ = c.Close()
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			continue
		}
		s := &redisServer{Addr: addr, cmd: cmd, client: c}
		info, _ := c.Info(context.Background(), "server").Result()
		s.Version = infoFields(info)["redis_version"]
		return s, nil
	}
	return nil, fmt.Errorf("could not start redis-server on a free port")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Pid is the server's process id.
func (s *redisServer) Pid() int { return s.cmd.Process.Pid }

func (s *redisServer) URL() string { return "redis://" + s.Addr + "/0" }

// flush empties the server and its statistics before a run, and rewrites
// the AOF (now small) so that it does not grow run after run.
func (s *redisServer) flush(ctx context.Context) error {
	if err := s.client.FlushAll(ctx).Err(); err != nil {
		return err
	}
	if err := s.client.BgRewriteAOF(ctx).Err(); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		info, err := s.client.Info(ctx, "persistence").Result()
		if err != nil {
			return err
		}
		f := infoFields(info)
		if f["aof_rewrite_in_progress"] == "0" && f["aof_rewrite_scheduled"] == "0" {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("AOF rewrite still running after a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s.client.ConfigResetStat(ctx).Err()
}

func (s *redisServer) stop() {
	_ = s.client.Close()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// redisStats is what a run costs the server: commands (those run inside
// scripts included, as INFO commandstats counts them), the top-level
// calls among them, and CPU time.
type redisStats struct {
	Calls    map[string]int64 // per command
	Commands int64            // sum of Calls
	CPU      time.Duration    // used_cpu_user + used_cpu_sys
}

func (s *redisServer) stats(ctx context.Context) (redisStats, error) {
	out := redisStats{Calls: map[string]int64{}}
	info, err := s.client.Info(ctx, "commandstats", "cpu").Result()
	if err != nil {
		return out, err
	}
	f := infoFields(info)
	for k, v := range f {
		name, ok := strings.CutPrefix(k, "cmdstat_")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(v, ",") {
			if n, ok := strings.CutPrefix(kv, "calls="); ok {
				c, _ := strconv.ParseInt(n, 10, 64)
				out.Calls[name] = c
				out.Commands += c
			}
		}
	}
	user, _ := strconv.ParseFloat(f["used_cpu_user"], 64)
	sys, _ := strconv.ParseFloat(f["used_cpu_sys"], 64)
	out.CPU = time.Duration((user + sys) * float64(time.Second))
	return out, nil
}

// sub is the cost between two snapshots.
func (a redisStats) sub(b redisStats) redisStats {
	out := redisStats{Calls: map[string]int64{}, Commands: a.Commands - b.Commands, CPU: a.CPU - b.CPU}
	for k, v := range a.Calls {
		if d := v - b.Calls[k]; d != 0 {
			out.Calls[k] = d
		}
	}
	return out
}

func infoFields(info string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if ok {
			out[k] = v
		}
	}
	return out
}

// hasBinary reports whether a program is on PATH.
func hasBinary(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// tmpDir is a fresh folder under the benchmark's temporary root.
func tmpDir(root, name string) (string, error) {
	return os.MkdirTemp(root, name+"-")
}
