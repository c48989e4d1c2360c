package work

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// idleRunner is a runner process this node started and its end of their
// socket: idle in Manager.idle, or working on a unit (see RunnerCommand).
type idleRunner struct {
	cmd     *exec.Cmd
	sock    int    // this node's end of the runner's socket
	pending []byte // read from sock but not yet taken by readReport
}

// spawnRunner starts a runner, in its own session and process group.
func spawnRunner() (*idleRunner, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	child := os.NewFile(uintptr(fds[1]), "runner-socket")
	defer child.Close()
	cmd := &exec.Cmd{
		Path: runnerPath,
		Args: []string{runnerArg0, RunnerCommand},
		// The runner's own stdout and stderr are not the command's: it only
		// reports failures to record the status, which the node reports
		// anyway.
		ExtraFiles:  []*os.File{child},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		unix.Close(fds[0])
		return nil, fmt.Errorf("starting the command runner: %w", err)
	}
	return &idleRunner{cmd: cmd, sock: fds[0]}, nil
}

// send hands the runner a job. The runner owns the files from then on;
// the caller closes its own copies.
func (r *idleRunner) send(job runnerJob, lock, stdin, stdout *os.File) error {
	data, err := frameRunnerJob(job)
	if err != nil {
		return err
	}
	rights := unix.UnixRights(int(lock.Fd()), int(stdin.Fd()), int(stdout.Fd()))
	n, err := unix.SendmsgN(r.sock, data, rights, nil, 0)
	for err == unix.EINTR {
		n, err = unix.SendmsgN(r.sock, data, rights, nil, 0)
	}
	for err == nil && n < len(data) {
		var m int
		m, err = unix.Write(r.sock, data[n:])
		if err == unix.EINTR {
			err = nil
		}
		n += m
	}
	return err
}

// finished follows the runner's reports on a unit until the final status
// is written ("done"), calling running with the command's PID once it has
// started ("running PID"; a command that cannot start goes straight to
// "done"). It returns false if the runner ended first or sent garbage;
// then only the runner's exit tells the unit's end.
func (r *idleRunner) finished(running func(pid int)) bool {
	started := false
	for {
		line := r.readReport()
		var pid int
		switch _, err := fmt.Sscanf(line, "running %d\n", &pid); {
		case line == "done\n":
			return true
		case err == nil && pid > 0 && !started:
			started = true
			running(pid)
		default:
			return false
		}
	}
}

// readReport reads the runner's next line, of at most maxReport bytes;
// "" if the runner ends first or sends garbage. Bytes read past the line
// (both reports of a short command may come in one read) wait in r.pending.
func (r *idleRunner) readReport() string {
	for {
		if i := bytes.IndexByte(r.pending, '\n'); i >= 0 {
			line := string(r.pending[:i+1])
			r.pending = r.pending[i+1:]
			return line
		}
		if r.sock < 0 || len(r.pending) >= maxReport {
			return ""
		}
		buf := make([]byte, maxReport-len(r.pending))
		n, err := unix.Read(r.sock, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return ""
		}
		r.pending = append(r.pending, buf[:n]...)
	}
}

// maxReport bounds a runner's report line ("running PID", "done").
const maxReport = 64

// discard ends a runner that will get no more jobs: at its socket's end
// it exits (once its unit is done, if it has one).
func (r *idleRunner) discard() {
	r.closeSocket()
	r.cmd.Wait()
}

func (r *idleRunner) closeSocket() {
	if r.sock >= 0 {
		unix.Close(r.sock)
		r.sock = -1
	}
}

// maxIdleRunners bounds the runners kept waiting for units: as many as
// ran at once lately, up to this many, so that a burst of units (AWX
// starts jobs together) finds them warm. An idle runner costs about
// 1.5 MB of its own memory; the rest of its pages are the binary's,
// shared with the node.
const maxIdleRunners = 4

// takeRunner returns an idle runner, or starts one now if none is idle.
// A runner is idle again once its unit is done (see keepIdle); one is
// started when the Manager starts and when a runner is lost.
func (m *Manager) takeRunner() (*idleRunner, error) {
	m.mu.Lock()
	var r *idleRunner
	if k := len(m.idle); k > 0 {
		r, m.idle = m.idle[k-1], m.idle[:k-1]
	}
	m.mu.Unlock()
	if r != nil {
		return r, nil
	}
	return spawnRunner()
}

// keepIdle keeps r, a new runner or one whose unit is done, for the
// next unit if there is room and the Manager still runs command units;
// otherwise it ends r.
func (m *Manager) keepIdle(r *idleRunner) {
	m.mu.Lock()
	keep := len(m.idle) < maxIdleRunners && m.ctx.Err() == nil && len(*m.types.Load()) > 0
	if keep {
		m.idle = append(m.idle, r)
	}
	m.mu.Unlock()
	if !keep {
		r.discard()
	}
}

// refill starts an idle runner in the background if none is idle and the
// node has command work types.
func (m *Manager) refill() {
	if len(*m.types.Load()) > 0 {
		m.goBackground(func(context.Context) { m.refillRunner() })
	}
}

// refillRunner makes sure one runner is idle.
func (m *Manager) refillRunner() {
	m.mu.Lock()
	have := len(m.idle) > 0 || m.ctx.Err() != nil
	m.mu.Unlock()
	if have {
		return
	}
	r, err := spawnRunner()
	if err != nil {
		m.log.Warn("work: could not start an idle command runner", "err", err)
		return
	}
	m.keepIdle(r)
}

// discardIdle ends the idle runners at Close.
func (m *Manager) discardIdle() {
	m.mu.Lock()
	idle := m.idle
	m.idle = nil
	m.mu.Unlock()
	for _, r := range idle {
		r.discard()
	}
}
