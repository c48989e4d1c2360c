package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one child process the driver started.
type proc struct {
	name  string
	cmd   *exec.Cmd
	pid   int
	log   string        // file holding its stderr (and stdout for meshd)
	stdin io.Closer     // helpers exit when this closes
	out   *bufio.Reader // helpers' stdout (their ready line)
	done  chan struct{} // closed once the process has been reaped
	err   error         // Wait's result, valid after done
}

// procs tracks every child so that all of them can be killed, by PID, on
// any exit path.
type procs struct {
	mu   sync.Mutex
	list []*proc
}

// start runs path with args. Its stderr goes to logPath. withPipes gives
// the child a stdin pipe (closed on kill) and a readable stdout, for the
// driver's own helper modes.
func (ps *procs) start(name, logPath string, withPipes bool, path string, args ...string) (*proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer lf.Close() // the child holds its own descriptor
	cmd := exec.Command(path, args...)
	cmd.Stderr = lf
	// If the driver dies without cleaning up, the kernel kills the child.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	if withPipes {
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		p.stdin, p.out = in, bufio.NewReader(out)
	} else {
		cmd.Stdout = lf
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p.pid = cmd.Process.Pid
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// readyLine waits (at most timeout) for the helper's first stdout line.
func (p *proc) readyLine(timeout time.Duration) (string, error) {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := p.out.ReadString('\n')
		ch <- res{strings.TrimSpace(s), err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return "", fmt.Errorf("%s: no ready line: %v%s", p.name, r.err, p.logTail())
		}
		return r.s, nil
	case <-time.After(timeout):
		p.kill()
		return "", fmt.Errorf("%s: no ready line within %v%s", p.name, timeout, p.logTail())
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL to the process by PID and waits (bounded) for it to
// be reaped.
func (p *proc) kill() {
	if p.stdin != nil {
		p.stdin.Close()
	}
	if !p.exited() {
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		fmt.Fprintf(os.Stderr, "meshbench: %s (pid %d) not reaped 5s after SIGKILL\n", p.name, p.pid)
	}
}

// stop asks the process to exit with SIGTERM, then kills it after grace.
func (p *proc) stop(grace time.Duration) {
	if p.stdin != nil {
		p.stdin.Close()
	}
	if !p.exited() {
		_ = syscall.Kill(p.pid, syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(grace):
		p.kill()
	}
}

// stopAll stops every process still running, in parallel.
func (ps *procs) stopAll() {
	ps.mu.Lock()
	list := ps.list
	ps.list = nil
	ps.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop(2 * time.Second)
		}()
	}
	wg.Wait()
}

// logTail returns the end of the process's log, for error messages.
func (p *proc) logTail() string {
	b, err := os.ReadFile(p.log)
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return "\n--- " + p.name + " log tail ---\n" + string(b)
}

// procStatusKB reads a "Vm...:" field of /proc/PID/status in kB.
func procStatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("pid %d: no %s in /proc status", pid, field)
}

// clockTicks is USER_HZ, 100 on every Linux platform Go supports.
const clockTicks = 100

// procCPU is the user+system CPU time a process has used so far.
func procCPU(pid int) (time.Duration, error) {
	return procStatTimes(pid, 11) // fields 14 and 15: utime, stime
}

// procChildCPU is the user+system CPU time of the process's children
// that it has waited for (cutime+cstime), which include their own
// waited-for children.
func procChildCPU(pid int) (time.Duration, error) {
	return procStatTimes(pid, 13) // fields 16 and 17: cutime, cstime
}

// procOffspringCPU is the CPU time of everything a process has started:
// the children it has waited for (cutime+cstime) and, for each child still
// alive, its own time and that of the children it has waited for. A node's
// command runner lives on from unit to unit, so the commands it runs are
// counted through it; one that exits lands in the node's cutime, and the
// sum carries on.
func procOffspringCPU(pid int) (time.Duration, error) {
	t, err := procChildCPU(pid)
	if err != nil {
		return 0, err
	}
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	for _, path := range tasks {
		b, _ := os.ReadFile(path)
		for _, f := range strings.Fields(string(b)) {
			child, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			own, err1 := procCPU(child)
			waited, err2 := procChildCPU(child)
			if err1 == nil && err2 == nil {
				t += own + waited
			}
		}
	}
	return t, nil
}

// procStatTimes sums two adjacent clock-tick fields of /proc/PID/stat,
// counted from the first field after the command name.
func procStatTimes(pid, first int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; fields resume after its ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < first+2 {
		return 0, errors.New("short /proc stat")
	}
	a, err1 := strconv.ParseInt(f[first], 10, 64)
	c, err2 := strconv.ParseInt(f[first+1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat times")
	}
	return time.Duration(a+c) * time.Second / clockTicks, nil
}

// cpuOf sums procCPU over processes; errors count as zero.
func cpuOf(ps ...*proc) time.Duration {
	var t time.Duration
	for _, p := range ps {
		d, _ := procCPU(p.pid)
		t += d
	}
	return t
}

// tcpListening reports whether something listens on 127.0.0.1:port,
// according to /proc/net/tcp (which avoids connecting to it).
func tcpListening(port int) bool {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return false
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && f[1] == want && f[3] == "0A" {
			return true
		}
	}
	return false
}
