package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"
)

// asynqCommand is what bench/asynqside does (see its main.go).
type asynqCommand struct {
	Op          string `json:"op"`
	Redis       string `json:"redis"`
	N           int    `json:"n,omitempty"`
	Concurrency int    `json:"concurrency,omitempty"`
	Rate        int    `json:"rate,omitempty"`
	DurationMS  int    `json:"durationMs,omitempty"`
	CheckMS     int    `json:"checkMs,omitempty"`
	Senders     int    `json:"senders,omitempty"`
}

type asynqResult struct {
	Event        string  `json:"event"`
	Error        string  `json:"error"`
	FirstStartNS int64   `json:"firstStartNs"`
	DoneNS       int64   `json:"doneNs"`
	Handled      int64   `json:"handled"`
	StartUS      []int64 `json:"startUs"`
	DoneUS       []int64 `json:"doneUs"`
	Offered      int     `json:"offered"`
	Enqueued     int64   `json:"enqueued"`
	Seconds      float64 `json:"seconds"`
}

// asynqProc is one run of asynqside.
type asynqProc struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	logs  *tailBuffer
	done  chan struct{}
	lines chan asynqResult
}

// startAsynq runs asynqside with c and waits for it to be ready.
func startAsynq(bin string, c asynqCommand) (*asynqProc, error) {
	cmd := exec.Command(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	logs := &tailBuffer{max: 8 << 10}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &asynqProc{cmd: cmd, in: in, logs: logs, done: make(chan struct{}), lines: make(chan asynqResult, 4)}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	go func() {
		defer close(p.lines)
		for sc.Scan() {
			var r asynqResult
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				r = asynqResult{Event: "error", Error: "bad line: " + sc.Text()}
			}
			p.lines <- r
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	b, _ := json.Marshal(c)
	if _, err := fmt.Fprintf(in, "%s\n", b); err != nil {
		p.kill()
		return nil, err
	}
	if _, err := p.next(5 * time.Minute); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// Pid is asynqside's process id.
func (p *asynqProc) Pid() int { return p.cmd.Process.Pid }

// next waits for asynqside's next answer.
func (p *asynqProc) next(limit time.Duration) (asynqResult, error) {
	select {
	case r, ok := <-p.lines:
		if !ok {
			return r, fmt.Errorf("asynqside ended: %s", p.logs.String())
		}
		if r.Event == "error" {
			return r, fmt.Errorf("asynqside: %s", r.Error)
		}
		return r, nil
	case <-time.After(limit):
		return asynqResult{}, fmt.Errorf("asynqside silent for %s: %s", limit, p.logs.String())
	}
}

// goAndWait tells asynqside to go and waits for its result.
func (p *asynqProc) goAndWait(limit time.Duration) (asynqResult, error) {
	if _, err := io.WriteString(p.in, "go\n"); err != nil {
		return asynqResult{}, err
	}
	return p.next(limit)
}

// finish closes stdin and waits for asynqside to exit.
func (p *asynqProc) finish() {
	_ = p.in.Close()
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.kill()
	}
}

func (p *asynqProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}
