package ctlsock

import "golang.org/x/sys/unix"

// systemMemoryMiB is the total physical memory in MiB, as receptor reports
// it (SystemMemoryMiB); 0 if the kernel will not say.
func systemMemoryMiB() uint64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit) / (1 << 20)
}
