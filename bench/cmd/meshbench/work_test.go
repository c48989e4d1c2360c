package main

import (
	"os"
	"testing"
	"time"
)

func TestProcTimes(t *testing.T) {
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if d, err := procChildCPU(os.Getpid()); err != nil || d < 0 {
		t.Fatalf("procChildCPU = %v, %v", d, err)
	}
	if got := msf(1500 * time.Microsecond); got != "1.50 ms" {
		t.Fatalf("msf = %q", got)
	}
	if got := msf(-1); got != "?" {
		t.Fatalf("msf(-1) = %q", got)
	}
}
