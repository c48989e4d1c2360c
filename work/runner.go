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
//	meshd work-runner
//
// The node starts a runner in a new session, with one end of a Unix socket
// as file descriptor 3, before it has a unit for it: a runner waits, warm,
// so that a submit does not pay for starting a process. The node then
// sends the job over the socket (runnerJob as JSON, with the unit's
// directory, already locked with flock, and its stdin and stdout files
// attached) and
// closes it. The runner runs the command in its own process group with
// that stdin, stdout and stderr both into stdout, writes the Running status
// and, once the command has exited, the final one. A runner whose socket
// closes without a job (the node stopped) just exits.
//
// Holding the lock for its whole life is how a node restarted meanwhile
// knows the runner is alive, and waiting for that lock is how it learns
// that the runner has ended, without trusting a PID that may be reused.
// (The lock stays held while the job is in flight on the socket: the
// kernel keeps the attached file alive.)
const RunnerCommand = "work-runner"

// runnerJob is what the node sends a runner.
type runnerJob struct {
	Dir  string   `json:"dir"`
	Argv []string `json:"argv"`
}

const (
	runnerSocketFD = 3
	maxRunnerJob   = 4 << 20 // params are bounded by the control line (1 MiB) and the config
	runnerJobFiles = 3       // lock, stdin, stdout
)

// RunnerMain runs a command runner; args follow RunnerCommand. It returns
// the process exit status: 0 once a final status is written or when the
// node goes away without a job.
func RunnerMain(args []string) int {
	if len(args) != 0 {
		fmt.Fprintln(os.Stderr, "usage: meshd work-runner (started by a node, with its socket as fd 3)")
		return 2
	}
	// The node cancels by signalling the whole process group: the command
	// decides what to do, and the runner stays to record how it ended.
	// (Notify, not Ignore: an ignored signal would stay ignored in the
	// command after exec.)
	signal.Notify(make(chan os.Signal, 1), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	job, files, err := receiveJob(runnerSocketFD)
	if err != nil || files == nil {
		unix.Close(runnerSocketFD)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshd work-runner:", err)
		return 1
	}
	if files == nil {
		return 0 // the node closed the socket: no job
	}
	// files[0], the lock, stays open until the runner exits. Received files
	// are close-on-exec, so a command that outlives the runner (a
	// daemonized grandchild) cannot hold the unit "running".
	if err := runCommand(job.Dir, job.Argv, files[1], files[2]); err != nil {
		fmt.Fprintln(os.Stderr, "meshd work-runner:", err)
		return 1
	}
	return 0
}

// receiveJob reads the job and its files from the node's socket, until
// the node shuts down its side. No job and no error means the node closed
// the socket.
func receiveJob(fd int) (runnerJob, []*os.File, error) {
	var job runnerJob
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(runnerJobFiles*4))
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return job, nil, fmt.Errorf("receiving the job: %w", err)
	}
	if n == 0 && oobn == 0 {
		return job, nil, nil
	}
	files, err := receivedFiles(oob[:oobn])
	if err != nil {
		return job, nil, err
	}
	data := append([]byte(nil), buf[:n]...)
	for len(data) <= maxRunnerJob {
		m, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return job, nil, fmt.Errorf("receiving the job: %w", err)
		}
		if m == 0 {
			break
		}
		data = append(data, buf[:m]...)
	}
	if job, err = parseRunnerJob(data); err != nil {
		return job, nil, err
	}
	return job, files, nil
}

// parseRunnerJob decodes the job message receiveJob has read: at most
// maxRunnerJob bytes of JSON naming a directory and a command.
func parseRunnerJob(data []byte) (runnerJob, error) {
	var job runnerJob
	if len(data) > maxRunnerJob {
		return job, fmt.Errorf("job larger than %d bytes", maxRunnerJob)
	}
	if err := json.Unmarshal(data, &job); err != nil || job.Dir == "" || len(job.Argv) == 0 {
		return job, fmt.Errorf("bad job %q: %v", data, err)
	}
	return job, nil
}

func receivedFiles(oob []byte) ([]*os.File, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("job without its files: %v", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != runnerJobFiles {
		return nil, fmt.Errorf("job with %d files, want %d: %v", len(fds), runnerJobFiles, err)
	}
	names := []string{"unit directory (lock)", stdinFile, stdoutFile}
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		files[i] = os.NewFile(uintptr(fd), names[i])
	}
	return files, nil
}

func runCommand(dir string, argv []string, stdin, stdout *os.File) error {
	raw, err := readStatus(dir)
	if err != nil {
		return err
	}
	st := Status{State: raw.State, Detail: raw.Detail, WorkType: raw.WorkType}
	var extra CommandExtra
	json.Unmarshal(raw.ExtraData, &extra) // only Params is kept from it
	extra.Pid = os.Getpid()

	// The final status must be recordable even if the command fills the
	// disk: its file and space are taken now.
	final, err := reserveStatus(dir)
	if err != nil {
		return err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	cmd.Stderr = stdout // stderr joins stdout, as in receptor
	if err := cmd.Start(); err != nil {
		st.State, st.Detail, st.ExtraData = Failed, err.Error(), nil
		return final.write(st)
	}
	// Tell the node at once (it shows Running from now on), then let go of
	// the socket: the runner must outlive the node if need be. A node gone
	// already makes this write fail, harmlessly.
	unix.Write(runnerSocketFD, []byte(fmt.Sprintf("running %d\n", cmd.Process.Pid)))
	unix.Close(runnerSocketFD)
	// Running is recorded while the command runs, not before it starts:
	// a short command does not wait for the write. The final status is
	// written after it.
	running := st
	running.State = Running
	running.Detail = fmt.Sprintf("Running: PID %d", cmd.Process.Pid)
	running.ExtraData = extra
	written := make(chan struct{})
	go func() {
		defer close(written)
		if err := writeStatus(dir, running); err != nil {
			// The node reads the runner as running anyway (it holds the
			// lock); only the detail is missing. Carry on so the result is
			// recorded.
			fmt.Fprintln(os.Stderr, "meshd work-runner:", err)
		}
	}()
	werr := cmd.Wait()
	<-written
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
	return final.write(st)
}

// reservedStatus is a status write prepared in advance: its file exists
// and its space is allocated.
type reservedStatus struct {
	f   *os.File
	dir string
}

func reserveStatus(dir string) (*reservedStatus, error) {
	f, err := os.OpenFile(filepath.Join(dir, statusFile+".final"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("preparing the final status: %w", err)
	}
	// Best effort: a file system without fallocate still gets the file.
	unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, 4096)
	return &reservedStatus{f: f, dir: dir}, nil
}

// write records st through the reserved file, replacing the status file
// atomically as writeStatus does.
func (r *reservedStatus) write(st Status) error {
	defer r.f.Close()
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if _, err := r.f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	if err := r.f.Truncate(int64(len(b))); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	if err := os.Rename(r.f.Name(), filepath.Join(r.dir, statusFile)); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	return nil
}
