//go:build !linux

package scenarios

import (
	"fmt"
	"net"
	"runtime"
	"syscall"
)

// The drivers run in the lab's Linux containers; the host only lists them.

func needsLinux(what string) error {
	return fmt.Errorf("tcplab: %s needs Linux (runs inside the lab's containers), not %s", what, runtime.GOOS)
}

func sockInt(c syscall.Conn, o sockOpt) (int, error) {
	return 0, needsLinux("reading " + o.String())
}

func setSockInt(rc syscall.RawConn, o sockOpt, v int) error {
	return needsLinux("setting " + o.String())
}

func queues(c net.Conn) (inq, outq int, err error) {
	return 0, 0, needsLinux("SIOCINQ/SIOCOUTQ")
}

func tcpInfo(c net.Conn) (tcpStat, error) {
	return tcpStat{}, needsLinux("TCP_INFO")
}

func pathOf(c net.Conn) (pathInfo, error) { return pathInfo{}, needsLinux("TCP_INFO") }
