package impair

import (
	"errors"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// TCPInfoRTT is the kernel's smoothed round-trip time of c (TCP_INFO
// tcpi_rtt): what the impairment really did to a connection.
func TCPInfoRTT(c net.Conn) (time.Duration, error) {
	info, err := tcpInfo(c)
	if err != nil {
		return 0, err
	}
	return time.Duration(info.Rtt) * time.Microsecond, nil
}

// TCPInfoRetrans is how many segments c retransmitted (tcpi_total_retrans).
func TCPInfoRetrans(c net.Conn) (uint32, error) {
	info, err := tcpInfo(c)
	if err != nil {
		return 0, err
	}
	return info.Total_retrans, nil
}

func tcpInfo(c net.Conn) (*unix.TCPInfo, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil, errors.New("impair: TCP_INFO needs a *net.TCPConn")
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var info *unix.TCPInfo
	var serr error
	if err := rc.Control(func(fd uintptr) { info, serr = unix.GetsockoptTCPInfo(int(fd), unix.SOL_TCP, unix.TCP_INFO) }); err != nil {
		return nil, err
	}
	return info, serr
}
