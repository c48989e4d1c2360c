package work

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReceiveJob: jobs arrive framed, their files attached to the first
// bytes, the rest of a job possibly in later reads; one runner takes job
// after job on one socket. A frame that is too large, bytes past a job's
// end, or a job cut off by the node's end are errors; the node's end
// between jobs is not.
func TestReceiveJob(t *testing.T) {
	dir := t.TempDir()
	file := func(name string) *os.File {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	lock, stdin, stdout := file("lock"), file("stdin"), file("stdout")
	rights := unix.UnixRights(int(lock.Fd()), int(stdin.Fd()), int(stdout.Fd()))
	pair := func() (node, runner int) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
		return fds[0], fds[1]
	}
	want := runnerJob{Dir: dir, Argv: []string{"echo", strings.Repeat("x", 100<<10)}, WorkType: "echo", Params: "p"}
	frame, err := frameRunnerJob(want)
	if err != nil {
		t.Fatal(err)
	}

	node, runner := pair()
	for range 2 { // two jobs in turn, the second one split in three writes
		go func() {
			unix.Sendmsg(node, frame[:3], rights, nil, 0)
			unix.Write(node, frame[3:50])
			unix.Write(node, frame[50:])
		}()
		job, files, err := receiveJob(runner)
		if err != nil || len(files) != runnerJobFiles {
			t.Fatalf("receiveJob: %v, %d files", err, len(files))
		}
		for _, f := range files {
			f.Close()
		}
		if job.Dir != want.Dir || !slices.Equal(job.Argv, want.Argv) || job.WorkType != want.WorkType || job.Params != want.Params {
			t.Fatalf("received a job other than the one sent")
		}
	}
	unix.Close(node)
	if _, files, err := receiveJob(runner); err != nil || files != nil {
		t.Errorf("the node's end between jobs: %v, %d files; want neither", err, len(files))
	}

	// Small frames: each is sent whole before it is read.
	small, err := frameRunnerJob(runnerJob{Dir: dir, Argv: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"too large":    binary.BigEndian.AppendUint32(nil, maxRunnerJob+1),
		"past its end": append(append([]byte(nil), small...), '{'),
		"cut off":      small[:len(small)/2],
	}
	for name, b := range bad {
		node, runner := pair()
		unix.Sendmsg(node, b, rights, nil, 0)
		unix.Shutdown(node, unix.SHUT_WR)
		if _, files, err := receiveJob(runner); err == nil || files != nil {
			t.Errorf("%s: receiveJob accepted it (%v, %d files)", name, err, len(files))
		}
	}
}
