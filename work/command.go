package work

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// runnerProc is the live runner of a command unit: started by this node,
// or adopted from a previous run of it.
type runnerProc struct {
	// pgid is the command's process group (its PID), which a cancel
	// signals; set before running is closed.
	pgid    int
	running chan struct{} // closed once the command runs
	done    chan struct{} // closed once the unit is final
}

func newRunnerProc() *runnerProc {
	return &runnerProc{running: make(chan struct{}), done: make(chan struct{})}
}

// runnerPath and runnerArg0 start runners from this very binary, even
// if its file was replaced since (an upgrade): /proc/self/exe names the
// running executable, and argv[0] is kept so that a multi-call test binary
// still knows what to run.
var (
	runnerPath = "/proc/self/exe"
	runnerArg0 = os.Args[0]
)

// startCommand launches the runner of a command unit whose stdin is saved.
func (m *Manager) startCommand(u *unit, argv []string) error {
	lock, err := os.Open(u.dir) // the runner's lock is the unit directory itself
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("locking the unit directory: %w", err)
	}
	stdin, err := os.Open(u.path(stdinFile))
	if err != nil {
		return err
	}
	defer stdin.Close()
	stdout, err := os.OpenFile(u.path(stdoutFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer stdout.Close()

	u.mu.Lock()
	defer u.mu.Unlock()
	if u.canceled || u.isGone {
		// Canceled or released since Run checked: a runner started now
		// would be one that nothing stops.
		return fmt.Errorf("work unit %s was canceled before it started", u.id)
	}
	runner, err := m.takeRunner()
	if err != nil {
		return err
	}
	// Written before the job goes: from then on the runner owns the file.
	u.updateLocked(func(st *Status) { st.Detail = "Launching command runner" })
	job := runnerJob{Dir: u.dir, Argv: argv, WorkType: u.st.WorkType, Params: u.st.ExtraData.(CommandExtra).Params}
	if err := runner.send(job, lock, stdin, stdout); err != nil {
		// An idle runner may have died meanwhile; a new one gets one try.
		runner.discard()
		if runner, err = spawnRunner(); err == nil {
			err = runner.send(job, lock, stdin, stdout)
		}
		if err != nil {
			if runner != nil {
				runner.discard()
			}
			return fmt.Errorf("handing the unit to its runner: %w", err)
		}
	}
	cmd := runner.cmd
	r := newRunnerProc()
	u.runner = r
	go func() {
		if runner.finished(func(pid int) { u.commandRunning(r, pid) }) {
			// The final status is on disk and the runner waits for its
			// next unit.
			m.runnerEnded(u, r, nil)
			m.keepIdle(runner)
			return
		}
		runner.closeSocket()
		err := cmd.Wait()
		m.runnerEnded(u, r, err)
		m.refill()
	}()
	return nil
}

// commandRunning shows a unit Running as soon as its runner reports the
// command started. The status file is the runner's to write.
func (u *unit) commandRunning(r *runnerProc, pid int) {
	r.pgid = pid
	close(r.running)
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.runner == r && u.st.State == Pending && !u.canceled {
		u.st.State, u.st.Detail = Running, fmt.Sprintf("Running: PID %d", pid)
		u.st.ExtraData = CommandExtra{Pid: pid, Params: u.st.ExtraData.(CommandExtra).Params}
		u.notifyLocked()
	}
}

// adoptRunner watches the runner of a unit left running by a previous run
// of this node. It reports whether the runner is still alive.
func (m *Manager) adoptRunner(u *unit) bool {
	lock, err := os.Open(u.dir)
	if err != nil {
		return false
	}
	if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
		lock.Close() // nobody holds it: the runner is gone
		return false
	}
	r := newRunnerProc()
	if extra, ok := u.st.ExtraData.(CommandExtra); ok && u.st.State == Running && extra.Pid > 0 {
		// The runner wrote Running with the command's PID. Before that
		// (a node stopped within the launch), the command is not known.
		r.pgid = extra.Pid
		close(r.running)
	}
	u.runner = r
	go func() {
		// The runner lets go of the lock once the final status is written
		// (or when it dies).
		err := unix.Flock(int(lock.Fd()), unix.LOCK_EX)
		for errors.Is(err, unix.EINTR) {
			err = unix.Flock(int(lock.Fd()), unix.LOCK_EX)
		}
		lock.Close()
		m.runnerEnded(u, r, nil)
	}()
	return true
}

// runnerEnded records the end of a runner: the final status it wrote, or
// Canceled if a cancel asked for it, or Failed if it died without one.
func (m *Manager) runnerEnded(u *unit, r *runnerProc, waitErr error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	defer close(r.done)
	u.runner = nil
	if m.ctx.Err() != nil {
		// Closed: the unit is no longer ours. A later run of the node
		// (maybe already adopting this runner on the same directory)
		// records the end from what the runner wrote.
		return
	}
	raw, err := readStatus(u.dir)
	if err == nil && raw.State.Final() && !u.canceled {
		// The runner recorded the end: take it as it is on disk.
		u.st.State, u.st.Detail, u.st.StdoutSize, u.st.ExtraData = raw.State, raw.Detail, raw.StdoutSize, nil
		u.notifyLocked()
		return
	}
	u.updateLocked(func(st *Status) {
		st.StdoutSize = fileSize(u.path(stdoutFile))
		st.ExtraData = nil
		switch {
		case u.canceled:
			st.State, st.Detail = Canceled, "Canceled"
		default:
			st.State = Failed
			st.Detail = "the command runner ended without recording a result"
			if waitErr != nil {
				st.Detail += " (" + waitErr.Error() + ")"
			}
		}
	})
}

// cancelCommand stops a running command unit: SIGTERM to its process
// group, SIGKILL after the grace period, and waits for the runner to end.
// A unit not yet started is marked Canceled at once; a finished one is left
// as it is.
func (m *Manager) cancelCommand(u *unit) error {
	u.mu.Lock()
	if u.st.State.Final() {
		u.mu.Unlock()
		return nil
	}
	u.canceled = true
	r := u.runner
	if r == nil {
		u.updateLocked(func(st *Status) { st.State, st.Detail, st.ExtraData = Canceled, "Canceled", nil })
		u.mu.Unlock()
		return nil
	}
	u.mu.Unlock()
	// A command about to start is waited for: its group is the one to
	// signal.
	select {
	case <-r.running:
	case <-r.done:
		return nil
	case <-time.After(m.cfg.CancelGrace):
		return fmt.Errorf("the command of unit %s has not reported its process ID; cannot signal it", u.id)
	}
	signalGroup(r.pgid, unix.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(m.cfg.CancelGrace):
		signalGroup(r.pgid, unix.SIGKILL)
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("the command of unit %s did not die after SIGKILL", u.id)
		}
	}
	// Members of the group that ignored SIGTERM while the command itself
	// exited would live on; the group is ours to end.
	signalGroup(r.pgid, unix.SIGKILL)
	return nil
}

// signalGroup signals a process group; an error (ESRCH: the group is
// gone) leaves nothing to do.
func signalGroup(pgid int, sig unix.Signal) { unix.Kill(-pgid, sig) }
