package impair

import (
	"errors"

	mdnetlink "github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// setRcvBuf gives the queue's socket an n-byte receive buffer, so a burst
// of queued packets waits there rather than passing undelayed (the queue
// fails open). Past net.core.rmem_max that takes SO_RCVBUFFORCE, which
// needs CAP_NET_ADMIN over the initial user namespace; rootless Docker's
// NET_ADMIN is over its own, so there the buffer is as large as rmem_max
// allows. It returns what the kernel gave (twice the size asked for, its
// bookkeeping included).
func setRcvBuf(c *mdnetlink.Conn, n int) (got int, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
		if errors.Is(serr, unix.EPERM) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, n)
		}
		if serr == nil {
			got, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		}
	}); err != nil {
		return 0, err
	}
	return got, serr
}
