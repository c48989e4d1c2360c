//go:build linux

package udplink

import (
	"encoding/binary"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux can send a batch of equal-size datagrams in one system call (UDP
// generic segmentation offload) and receive a run of them from one peer
// as one buffer (generic receive offload). Both cut the per-datagram
// system calls that otherwise bound throughput with 1200-byte packets.

func enableGRO(pc *net.UDPConn) {
	if rc, err := pc.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1)
		})
	}
}

const gsoAvailable = true

// gsoControl returns the control message that asks the kernel to split a
// buffer into datagrams of segSize bytes.
func gsoControl(segSize int) []byte {
	b := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.IPPROTO_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[unix.CmsgLen(0):], uint16(segSize))
	return b
}

// groSegmentSize returns the datagram size of a coalesced receive, or 0.
func groSegmentSize(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		if m.Header.Level == unix.IPPROTO_UDP && m.Header.Type == unix.UDP_GRO && len(m.Data) >= 4 {
			return int(binary.NativeEndian.Uint32(m.Data))
		}
	}
	return 0
}
