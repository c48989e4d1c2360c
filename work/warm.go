package work

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// idleRunner is a started runner waiting for its job (see RunnerCommand).
type idleRunner struct {
	cmd  *exec.Cmd
	sock int // this node's end of the runner's socket
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

// send hands the runner its job. The runner owns the files from then on;
// the caller closes its own copies.
func (r *idleRunner) send(job runnerJob, lock, stdin, stdout *os.File) error {
	data, err := json.Marshal(job)
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
	if err != nil {
		return err
	}
	// The runner reads until this side shuts down; the socket stays open
	// for its report (see started).
	return unix.Shutdown(r.sock, unix.SHUT_WR)
}

// started reads the runner's report that its command runs ("running
// PID"), and closes the socket. It returns 0 if the runner ends without
// one (the command could not start).
func (r *idleRunner) started() int {
	defer func() {
		unix.Close(r.sock)
		r.sock = -1
	}()
	var line []byte
	buf := make([]byte, 64)
	for len(line) < 64 {
		n, err := unix.Read(r.sock, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return 0
		}
		line = append(line, buf[:n]...)
		if bytes.IndexByte(line, '\n') >= 0 {
			break
		}
	}
	var pid int
	if _, err := fmt.Sscanf(string(line), "running %d\n", &pid); err != nil {
		return 0
	}
	return pid
}

// discard ends a runner that will get no job: at its socket's end it exits.
func (r *idleRunner) discard() {
	if r.sock >= 0 {
		unix.Close(r.sock)
	}
	r.cmd.Wait()
}

// takeRunner returns the idle runner, or starts one now if none is idle.
// The next idle runner is started when a unit ends (see runnerEnded), so
// that its start does not compete for the CPU with the unit that needs
// it, and when the Manager starts.
func (m *Manager) takeRunner() (*idleRunner, error) {
	m.mu.Lock()
	r := m.idle
	m.idle = nil
	m.mu.Unlock()
	if r != nil {
		return r, nil
	}
	return spawnRunner()
}

// refill starts an idle runner in the background if none is idle and the
// node has command work types.
func (m *Manager) refill() {
	if len(*m.types.Load()) > 0 {
		m.goBackground(func(context.Context) { m.refillRunner() })
	}
}

// refillRunner keeps one runner idle.
func (m *Manager) refillRunner() {
	m.mu.Lock()
	have := m.idle != nil || m.ctx.Err() != nil
	m.mu.Unlock()
	if have {
		return
	}
	r, err := spawnRunner()
	if err != nil {
		m.log.Warn("work: could not start an idle command runner", "err", err)
		return
	}
	m.mu.Lock()
	if m.idle == nil && m.ctx.Err() == nil {
		m.idle, r = r, nil
	}
	m.mu.Unlock()
	if r != nil {
		r.discard()
	}
}

// discardIdle ends the idle runner at Close.
func (m *Manager) discardIdle() {
	m.mu.Lock()
	r := m.idle
	m.idle = nil
	m.mu.Unlock()
	if r != nil {
		r.discard()
	}
}
