package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat: 100 on every Linux
// architecture Go supports (sysconf is not reachable without cgo).
const clockTicks = 100

// child is a server process the benchmark started: the handler, the baseline server or the
// warehouse SIMULATOR.
type child struct {
	name    string
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:port
	started time.Time
	ready   time.Time
	log     *os.File
	exited  chan struct{}
}

// startChild starts bin with args and env (cwd dir, output to logPath) serving on port, and
// waits until GET / answers 200.
func startChild(ctx context.Context, name, bin string, args, env []string, dir, logPath string, port int) (*child, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, lf, lf
	c := &child{name: name, cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), log: lf, exited: make(chan struct{})}
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { _ = cmd.Wait(); close(c.exited) }()
	if err := c.waitReady(ctx, 20*time.Second); err != nil {
		c.stop()
		return nil, fmt.Errorf("%s: %w (log: %s)", name, err, logPath)
	}
	return c, nil
}

// waitReady polls GET / every millisecond (a fresh connection each time) until it answers 200.
func (c *child) waitReady(ctx context.Context, limit time.Duration) error {
	cl := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			return fmt.Errorf("exited during start-up: %v", c.cmd.ProcessState)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if res, err := cl.Get(c.base + "/"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				c.ready = time.Now()
				return nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("not ready within %s", limit)
}

// stop sends SIGTERM and waits (SIGKILL after 15 s).
func (c *child) stop() {
	defer c.log.Close()
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// cpuTime is the user+system CPU time the process has used so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may contain spaces and parentheses: the fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc/pid/stat format")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("unexpected /proc/pid/stat format")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// machineBusy is the CPU time all processes have used so far (all CPUs, /proc/stat): used to
// see how much of a run's CPU went to processes other than the server and the load generator.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("unexpected /proc/stat format")
	}
	var busy int64
	for i, v := range f[1:9] { // user nice system idle iowait irq softirq steal
		if i == 3 || i == 4 {
			continue // idle, iowait
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, err
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks, nil
}

// memKB returns the fields of /proc/<pid>/status given (e.g. VmHWM, VmRSS) in KiB.
func memKB(pid int, keys ...string) (map[string]int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		for _, want := range keys {
			if k == want {
				fs := strings.Fields(v)
				if len(fs) > 0 {
					out[k], _ = strconv.ParseInt(fs[0], 10, 64)
				}
			}
		}
	}
	return out, sc.Err()
}

// selfCPU is the benchmark process's own user+system CPU time (the load generator).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// baseEnv is the environment of every child: a minimal one (so that settings of the caller's
// shell cannot change what is measured) plus the Go runtime knobs, passed through so that their
// effect can be measured (GOMAXPROCS=1 make bench).
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// fsType names the file system holding dir (the data directory: fsync cost depends on it).
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	switch uint64(st.Type) {
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x01021994:
		return "tmpfs (fsync is free: durability numbers are optimistic)"
	case 0x794c7630:
		return "overlayfs"
	case 0x2FC12FC1:
		return "zfs"
	}
	return fmt.Sprintf("0x%x", uint64(st.Type))
}
