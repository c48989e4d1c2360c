//go:build !linux

package udplink

import "net"

func enableGRO(*net.UDPConn)    {}
func gsoControl(int) []byte     { return nil }
func groSegmentSize([]byte) int { return 0 }

const gsoAvailable = false
