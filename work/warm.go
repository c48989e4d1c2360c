package work

import (
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
	unix.Close(r.sock)
	r.sock = -1
	return err
}

// discard ends a runner that will get no job: at its socket's end it exits.
func (r *idleRunner) discard() {
	if r.sock >= 0 {
		unix.Close(r.sock)
	}
	r.cmd.Wait()
}

// takeRunner returns the idle runner and starts the next one in the
// background, or starts one now if none is idle.
func (m *Manager) takeRunner() (*idleRunner, error) {
	m.mu.Lock()
	r := m.idle
	m.idle = nil
	m.mu.Unlock()
	m.goBackground(func(context.Context) { m.refillRunner() })
	if r != nil {
		return r, nil
	}
	return spawnRunner()
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
