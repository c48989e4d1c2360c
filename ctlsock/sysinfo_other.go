//go:build !linux

package ctlsock

// systemMemoryMiB is not implemented off Linux; receptorctl only prints it.
func systemMemoryMiB() uint64 { return 0 }
