package work

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// RunnerCommand is the argument that makes meshd a command runner:
//
//	meshd work-runner UNITDIR COMMAND [ARG...]
//
// The node starts it in a new session with the unit's stdin file as its
// stdin, the unit's stdout file as its stdout, and the unit's runner.lock,
// already locked, as file descriptor 3. It runs the command in its own
// process group with that stdin, stdout and stderr both into stdout, writes
// the Running status and, once the command has exited, the final one.
//
// Holding the lock for its whole life is how a node restarted meanwhile
// knows the runner is alive, and waiting for that lock is how it learns
// that the runner has ended, without trusting a PID that may be reused.
const RunnerCommand = "work-runner"

const runnerLockFD = 3

// RunnerMain runs a command runner; args follow RunnerCommand. It returns
// the process exit status: 0 once a final status is written.
func RunnerMain(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: meshd work-runner UNITDIR COMMAND [ARG...]")
		return 2
	}
	// The command must not inherit the lock, or a command that outlives
	// the runner (a daemonized grandchild) would hold the unit "running".
	unix.CloseOnExec(runnerLockFD)
	// The node cancels by signalling the whole process group: the command
	// decides what to do, and the runner stays to record how it ended.
	// (Notify, not Ignore: an ignored signal would stay ignored in the
	// command after exec.)
	signal.Notify(make(chan os.Signal, 1), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)

	dir := args[0]
	if err := runCommand(dir, args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "meshd work-runner:", err)
		return 1
	}
	return 0
}

func runCommand(dir string, argv []string) error {
	raw, err := readStatus(dir)
	if err != nil {
		return err
	}
	st := Status{State: raw.State, Detail: raw.Detail, WorkType: raw.WorkType}
	var extra CommandExtra
	json.Unmarshal(raw.ExtraData, &extra) // only Params is kept from it
	extra.Pid = os.Getpid()

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = os.Stdin
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stdout // stderr joins stdout, as in receptor
	if err := cmd.Start(); err != nil {
		st.State, st.Detail, st.ExtraData = Failed, err.Error(), nil
		return writeStatus(dir, st)
	}
	st.State = Running
	st.Detail = fmt.Sprintf("Running: PID %d", cmd.Process.Pid)
	st.ExtraData = extra
	if err := writeStatus(dir, st); err != nil {
		// The node reads the runner as running anyway (it holds the lock);
		// only the detail is missing. Carry on so the result is recorded.
		fmt.Fprintln(os.Stderr, "meshd work-runner:", err)
	}
	werr := cmd.Wait()
	st.State, st.ExtraData = Succeeded, nil
	if werr != nil {
		st.State = Failed
	}
	if cmd.ProcessState != nil {
		st.Detail = cmd.ProcessState.String() // "exit status 2", "signal: killed"
	} else {
		st.Detail = werr.Error()
	}
	st.StdoutSize = fileSize(filepath.Join(dir, stdoutFile))
	return writeStatus(dir, st)
}
