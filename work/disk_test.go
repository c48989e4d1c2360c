package work_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"meshd/work"
)

// smallDisk mounts a 256 KiB tmpfs for the test (root only: mounting
// needs it) and returns its path.
func smallDisk(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a full disk is simulated with a small tmpfs, which only root can mount")
	}
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// TestFullDisk: a payload or output that does not fit fails its own unit
// with a clear reason, and the node goes on serving the others.
func TestFullDisk(t *testing.T) {
	m := newManager(t, work.Config{DataDir: smallDisk(t)})
	before := mustSubmit(t, m, work.SubmitRequest{WorkType: "cat"}, "kept\n")
	waitState(t, m, before, work.Succeeded)

	id, _, err := submit(t, m, work.SubmitRequest{WorkType: "cat"}, bytes.NewReader(make([]byte, 1<<20)))
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("oversized payload: %v", err)
	}
	if st := status(t, m, id); st.State != int(work.Failed) || !strings.HasPrefix(st.Detail, "Error reading input data: ") {
		t.Errorf("unit with the oversized payload: %+v", st)
	}
	if _, err := m.Release(t.Context(), id, false, work.Auth{Trusted: true}); err != nil {
		t.Fatalf("release frees its space: %v", err)
	}

	big := mustSubmit(t, m, work.SubmitRequest{WorkType: "bash", Params: params(`-c "head -c 1048576 /dev/zero"`)}, "")
	if st := waitState(t, m, big, work.Failed); !strings.HasPrefix(st.Detail, "exit status ") {
		t.Errorf("command whose output does not fit: %+v", st)
	}
	if _, err := m.Release(t.Context(), big, false, work.Auth{Trusted: true}); err != nil {
		t.Fatal(err)
	}

	if got := results(t, m, before, 0); got != "kept\n" {
		t.Errorf("earlier unit's output: %q", got)
	}
	after := mustSubmit(t, m, work.SubmitRequest{WorkType: "cat"}, "still works\n")
	waitState(t, m, after, work.Succeeded)
	if got := results(t, m, after, 0); got != "still works\n" {
		t.Errorf("unit after the full disk: %q", got)
	}
}
