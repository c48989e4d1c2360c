package work

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
// so that a submit does not pay for starting a process (tens of
// milliseconds on small virtual machines). The node then sends it jobs,
// one at a time: a runnerJob as JSON behind a 4-byte big-endian length,
// with the unit's directory (already locked with flock), stdin and stdout
// files attached. For each, the runner runs the command in a process
// group of its own with that stdin, stdout and stderr both into stdout,
// reports "running PID", writes the Running status and, once the command
// has exited, the final one; then it lets go of the unit's files and lock,
// reports "done" and waits for the next job. A runner whose socket closes
// (the node stopped, or keeps no runner idle) exits once its unit is done.
//
// Holding the lock while it works on a unit is how a node restarted
// meanwhile knows the unit is alive, and waiting for that lock is how it
// learns that the final status is written, without trusting a PID that
// may be reused. (The lock stays held while the job is in flight on the
// socket: the kernel keeps the attached file alive.)
const RunnerCommand = "work-runner"

// runnerJob is what the node sends a runner.
type runnerJob struct {
	Dir  string   `json:"dir"`
	Argv []string `json:"argv"`
	// WorkType and Params are the unit's, for the statuses the runner
	// writes (the node has them at hand; reading the status file back
	// would cost the unit a file read on its way to starting).
	WorkType string `json:"worktype,omitempty"`
	Params   string `json:"params,omitempty"`
}

const (
	runnerSocketFD = 3
	maxRunnerJob   = 4 << 20 // params are bounded by the control line (1 MiB) and the config
	runnerJobFiles = 3       // lock, stdin, stdout
)

// RunnerMain runs a command runner; args follow RunnerCommand. It returns
// the process exit status: 0 when the node closes the socket or goes away.
func RunnerMain(args []string) int {
	if len(args) != 0 {
		fmt.Fprintln(os.Stderr, "usage: meshd work-runner (started by a node, with its socket as fd 3)")
		return 2
	}
	// A signal meant for a unit goes to its command's process group; one
	// that reaches the runner (a terminal's, say) must not end it while
	// it has a unit's end to record. (Notify, not Ignore: an ignored
	// signal would stay ignored in the command after exec.)
	signal.Notify(make(chan os.Signal, 1), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	// The node's socket is for the runner alone: a command that inherited
	// it would hold the node's end open after the runner has gone.
	unix.CloseOnExec(runnerSocketFD)
	warmUp()
	for {
		job, files, err := receiveJob(runnerSocketFD)
		if err != nil {
			fmt.Fprintln(os.Stderr, "meshd work-runner:", err)
			return 1
		}
		if files == nil {
			return 0 // the node closed the socket
		}
		// Received files are close-on-exec, so a command that outlives
		// its unit (a daemonized grandchild) cannot hold it "running".
		err = runCommand(job, files[1], files[2])
		for i := len(files) - 1; i >= 0; i-- {
			files[i].Close() // the lock (files[0]) last: the unit is the node's again
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "meshd work-runner:", err)
			return 1
		}
		// The node takes the final status on disk from this line on, and
		// may send the next job. A node gone meanwhile leaves nothing to
		// wait for.
		if !report("done\n") {
			return 0
		}
	}
}

// warmUp runs, while the runner waits for its job, the code a job will
// need, so that a unit does not wait for its pages to be faulted in
// (which costs tens of microseconds each on some virtual machines) or for
// os to check once, by starting a child of its own, whether pidfds work.
func warmUp() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		p.Release()
	}
	exec.LookPath("true")
	json.Marshal(Status{State: Running, ExtraData: CommandExtra{}})
	parseRunnerJob([]byte(`{"dir":"/","argv":["true"],"worktype":"w","params":"p"}`))
	_ = fmt.Sprintf("running %d\n", os.Getpid())
}

// receiveJob reads the next job and its files from the node's socket. No
// job and no error means the node closed the socket.
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
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	data := append([]byte(nil), buf[:n]...)
	for {
		if len(data) >= 4 {
			size := binary.BigEndian.Uint32(data)
			if size > maxRunnerJob {
				closeAll()
				return job, nil, fmt.Errorf("job larger than %d bytes", maxRunnerJob)
			}
			if len(data) >= 4+int(size) {
				break
			}
		}
		m, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err == nil && m == 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			closeAll()
			return job, nil, fmt.Errorf("receiving the job: %w", err)
		}
		data = append(data, buf[:m]...)
	}
	// The node sends the next job only after "done": nothing may follow.
	if len(data) != 4+int(binary.BigEndian.Uint32(data)) {
		closeAll()
		return job, nil, errors.New("receiving the job: bytes past its end")
	}
	if job, err = parseRunnerJob(data[4:]); err != nil {
		closeAll()
		return job, nil, err
	}
	return job, files, nil
}

// frameRunnerJob encodes a job as receiveJob reads it.
func frameRunnerJob(job runnerJob) ([]byte, error) {
	data, err := json.Marshal(job)
	if err != nil {
		return nil, err
	}
	if len(data) > maxRunnerJob {
		return nil, fmt.Errorf("job larger than %d bytes", maxRunnerJob)
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(data))), data...), nil
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

// report tells the node how the unit goes: "running PID" once the
// command has started, "done" once the final status is written. It is
// false if the node is gone (EPIPE, not a signal: the socket is not
// stdout), which changes nothing for the unit.
func report(line string) bool {
	_, err := unix.Write(runnerSocketFD, []byte(line))
	return err == nil
}

func runCommand(job runnerJob, stdin, stdout *os.File) error {
	dir := job.Dir
	st := Status{State: Pending, WorkType: job.WorkType}
	extra := CommandExtra{Params: job.Params}

	// The final status must be recordable even if the command fills the
	// disk: its file and space are taken now.
	final, err := reserveStatus(dir)
	if err != nil {
		return err
	}
	cmd := exec.Command(job.Argv[0], job.Argv[1:]...)
	// Its own process group, which a cancel signals: the runner outlives
	// the unit, and so may what its command leaves behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	cmd.Stderr = stdout // stderr joins stdout, as in receptor
	if err := cmd.Start(); err != nil {
		st.State, st.Detail, st.ExtraData = Failed, err.Error(), nil
		return final.write(st)
	}
	// Tell the node at once: it shows Running from now on.
	report(fmt.Sprintf("running %d\n", cmd.Process.Pid))
	// Running is recorded while the command runs, not before it starts:
	// a short command does not wait for the write. The final status is
	// written after it.
	running := st
	running.State = Running
	running.Detail = fmt.Sprintf("Running: PID %d", cmd.Process.Pid)
	extra.Pid = cmd.Process.Pid
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
