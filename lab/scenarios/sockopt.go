package scenarios

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// sockInt reads an integer socket option of c, as the kernel reports it.
func sockInt(c syscall.Conn, level, opt int) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var v int
	var serr error
	if err := rc.Control(func(fd uintptr) { v, serr = unix.GetsockoptInt(int(fd), level, opt) }); err != nil {
		return 0, err
	}
	return v, serr
}

// keepAlive is a socket's keep-alive state as the kernel holds it.
type keepAlive struct {
	Enabled   bool `json:"enabled"`
	IdleS     int  `json:"idle_s"`
	IntervalS int  `json:"interval_s"`
	Count     int  `json:"count"`
}

func (k keepAlive) String() string {
	return fmt.Sprintf("on=%v idle=%ds interval=%ds count=%d", k.Enabled, k.IdleS, k.IntervalS, k.Count)
}

// keepAliveOf reads SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT.
func keepAliveOf(c syscall.Conn) (keepAlive, error) {
	var k keepAlive
	var vals [4]int
	opts := [4][2]int{{unix.SOL_SOCKET, unix.SO_KEEPALIVE}, {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL}, {unix.IPPROTO_TCP, unix.TCP_KEEPCNT}}
	for i, o := range opts {
		v, err := sockInt(c, o[0], o[1])
		if err != nil {
			return k, err
		}
		vals[i] = v
	}
	return keepAlive{vals[0] != 0, vals[1], vals[2], vals[3]}, nil
}
