package work

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// The seed corpus of FuzzRunnerJob is in testdata/fuzz/FuzzRunnerJob: jobs
// as a node sends them, jobs without a directory or a command, truncated
// and trailing JSON, wrong types and non-objects. Fuzz it with
//
//	go test -run '^$' -fuzz '^FuzzRunnerJob$' -fuzztime 20s ./work/

// FuzzRunnerJob feeds arbitrary bytes to parseRunnerJob, the JSON part of
// what a runner receives from its node. It must not panic; it must refuse
// a job without a directory or without a command, and anything
// encoding/json refuses; whatever it accepts must survive the node's
// encoding (json.Marshal) unchanged, so that the runner runs what the
// node meant.
func FuzzRunnerJob(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		job, err := parseRunnerJob(data)
		if !bytes.Equal(data, orig) {
			t.Fatal("parseRunnerJob modified its input")
		}
		var ref runnerJob
		refErr := json.Unmarshal(data, &ref)
		if err != nil {
			if refErr == nil && ref.Dir != "" && len(ref.Argv) > 0 && len(data) <= maxRunnerJob {
				t.Fatalf("refused a valid job %+v: %v", ref, err)
			}
			return
		}
		if refErr != nil || len(data) > maxRunnerJob {
			t.Fatalf("accepted %q (%d bytes), which encoding/json refuses: %v", clipBytes(data), len(data), refErr)
		}
		if job.Dir == "" || len(job.Argv) == 0 {
			t.Fatalf("accepted a job without a directory or a command: %+v", job)
		}
		if job.Dir != ref.Dir || !slices.Equal(job.Argv, ref.Argv) {
			t.Fatalf("parsed %+v, encoding/json reads %+v", job, ref)
		}
		sent, err := json.Marshal(job)
		if err != nil {
			t.Fatalf("the job does not marshal: %v", err)
		}
		again, err := parseRunnerJob(sent)
		if err != nil || again.Dir != job.Dir || !slices.Equal(again.Argv, job.Argv) {
			t.Fatalf("job %+v sent as %s is received as %+v (%v)", job, sent, again, err)
		}
	})
}

// TestRunnerJobBound: a valid job padded past maxRunnerJob is refused.
func TestRunnerJobBound(t *testing.T) {
	job := []byte(`{"dir":"/var/lib/meshd/node1/Ab12Cd34","argv":["echo","hi"]}`)
	exact := append(bytes.Clone(job), bytes.Repeat([]byte(" "), maxRunnerJob-len(job))...)
	if _, err := parseRunnerJob(exact); err != nil {
		t.Errorf("job of exactly %d bytes: %v", maxRunnerJob, err)
	}
	if _, err := parseRunnerJob(append(exact, ' ')); err == nil {
		t.Errorf("job of %d bytes accepted", maxRunnerJob+1)
	}
}
