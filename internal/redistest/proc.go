package redistest

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Config says how Launch runs a redis-server.
type Config struct {
	Port int    // the loopback port it listens on
	Dir  string // its folder: it logs to redis.log there
	// Conf is a config file, given first (a sentinel needs one it can
	// rewrite); empty for none.
	Conf string
	// Password, when set, is given as --requirepass, and the readiness
	// checks authenticate with it.
	Password string
	Args     []string // more arguments, as "--appendonly", "yes"
}

// Proc is a redis-server process started by Launch. It reports errors
// rather than failing a test, for harnesses that run outside one (the
// chaos run); tests use Start, whose Server is built on it.
type Proc struct {
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// Launch runs redis-server as c says and waits, 10 s at most, until the
// server answering on its port is this one: another test's server may have
// taken the port meanwhile, and then ours exits or is killed. The process
// dies with the one that started it.
func Launch(c Config) (*Proc, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", c.Port)
	var args []string
	if c.Conf != "" {
		args = append(args, c.Conf)
	}
	args = append(args, "--port", strconv.Itoa(c.Port), "--logfile", filepath.Join(c.Dir, "redis.log"))
	args = append(args, c.Args...)
	if c.Password != "" {
		args = append(args, "--requirepass", c.Password)
	}
	cmd := exec.Command("redis-server", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{Addr: addr, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			log, _ := os.ReadFile(filepath.Join(c.Dir, "redis.log"))
			return nil, fmt.Errorf("redis-server on %s exited: %s", addr, tail(string(log)))
		default:
		}
		if ping(addr, c.Password) == nil {
			pid, err := processID(addr, c.Password)
			if err == nil && pid == cmd.Process.Pid {
				return p, nil
			}
			p.Kill()
			return nil, fmt.Errorf("another process answers on %s (pid %d, ours %d, %v)", addr, pid, cmd.Process.Pid, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.Kill()
	return nil, fmt.Errorf("redis-server on %s did not answer within 10s", addr)
}

// Kill stops the server at once (SIGKILL) and waits until it is gone.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Freeze stops the server with SIGSTOP: it keeps its port, so that
// connections open and commands are sent, but nothing answers, as with a
// host gone silent. Kill ends it.
func (p *Proc) Freeze() { _ = p.cmd.Process.Signal(syscall.SIGSTOP) }

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// PickPort returns a loopback port that was free a moment ago. It is
// taken below the kernel's ephemeral range when it can be, so that the
// ports the kernel hands out meanwhile (to listeners on port 0, to the
// local end of outgoing connections) do not take it from a server that is
// restarted on it. It is never 6379, the shared server's.
func PickPort() (int, error) {
	if lo := ephemeralLow(); lo > 21000 {
		for range 50 {
			port := 20000 + rand.IntN(lo-20000)
			if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				l.Close()
				return port, nil
			}
		}
	}
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port != 6379 {
			return port, nil
		}
	}
}

// ephemeralLow is the first port of the kernel's ephemeral range (0 when
// unknown).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	lo, _ := strconv.Atoi(f[0])
	return lo
}

// Ping sends PING over a raw connection and expects +PONG.
func Ping(addr string) error { return ping(addr, "") }

// ping is Ping, after AUTH with password when it is set.
func ping(addr, password string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	r := bufio.NewReader(c)
	if err := auth(c, r, password); err != nil {
		return err
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// auth sends AUTH password on c, when password is set, and expects +OK.
func auth(c net.Conn, r *bufio.Reader, password string) error {
	if password == "" {
		return nil
	}
	if _, err := fmt.Fprintf(c, "AUTH %s\r\n", password); err != nil {
		return err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+OK") {
		return fmt.Errorf("AUTH: unexpected reply %q", line)
	}
	return nil
}

// processID asks the server on addr for its process id (INFO server).
func processID(addr, password string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	r := bufio.NewReader(c)
	if err := auth(c, r, password); err != nil {
		return 0, err
	}
	if _, err := c.Write([]byte("INFO server\r\n")); err != nil {
		return 0, err
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			return strconv.Atoi(v)
		}
	}
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}
