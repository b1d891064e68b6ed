package scenarios

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The one place lab/scenarios calls getsockopt, setsockopt and ioctl.

var sockOptLevels = [...][2]int{
	soSndBuf:    {unix.SOL_SOCKET, unix.SO_SNDBUF},
	soRcvBuf:    {unix.SOL_SOCKET, unix.SO_RCVBUF},
	soReuseAddr: {unix.SOL_SOCKET, unix.SO_REUSEADDR},
	soKeepAlive: {unix.SOL_SOCKET, unix.SO_KEEPALIVE},
	soKeepIdle:  {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE},
	soKeepIntvl: {unix.IPPROTO_TCP, unix.TCP_KEEPINTVL},
	soKeepCnt:   {unix.IPPROTO_TCP, unix.TCP_KEEPCNT},
	soNoDelay:   {unix.IPPROTO_TCP, unix.TCP_NODELAY},
}

// sockInt reads an integer socket option of c (a conn or a listener), as
// the kernel reports it.
func sockInt(c syscall.Conn, o sockOpt) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var v int
	var serr error
	if err := rc.Control(func(fd uintptr) { v, serr = unix.GetsockoptInt(int(fd), sockOptLevels[o][0], sockOptLevels[o][1]) }); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, fmt.Errorf("getsockopt %s: %w", o, serr)
	}
	return v, nil
}

// setSockInt sets an integer socket option through a raw conn, as a
// net.ListenConfig or net.Dialer Control function gets it (before bind).
func setSockInt(rc syscall.RawConn, o sockOpt, v int) error {
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), sockOptLevels[o][0], sockOptLevels[o][1], v) }); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("setsockopt %s=%d: %w", o, v, serr)
	}
	return nil
}

// queues reads how many bytes wait in c's receive queue (SIOCINQ) and send
// queue (SIOCOUTQ: written by the app, not yet acknowledged by the peer).
func queues(c net.Conn) (inq, outq int, err error) {
	err = control(c, func(fd int) error {
		var e1, e2 error
		inq, e1 = unix.IoctlGetInt(fd, unix.TIOCINQ)
		outq, e2 = unix.IoctlGetInt(fd, unix.TIOCOUTQ)
		return errors.Join(e1, e2)
	})
	return inq, outq, err
}

// tcpInfo reads c's tcp_info.
func tcpInfo(c net.Conn) (tcpStat, error) {
	var st tcpStat
	err := control(c, func(fd int) error {
		info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return fmt.Errorf("getsockopt TCP_INFO: %w", err)
		}
		st = tcpStat{State: int(info.State), BytesAcked: info.Bytes_acked, RTOus: int(info.Rto), RTTus: int(info.Rtt)}
		return nil
	})
	return st, err
}

// pathOf reads c's tcp_info (tcpi_snd_wnd needs Linux ≥ 5.19, tcpi_rcv_wnd
// and tcpi_total_rto ≥ 6.2 / 6.7: older kernels leave them 0).
func pathOf(c net.Conn) (pathInfo, error) {
	var p pathInfo
	err := control(c, func(fd int) error {
		info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return fmt.Errorf("getsockopt TCP_INFO: %w", err)
		}
		p = pathInfo{RTT: time.Duration(info.Rtt) * time.Microsecond, SndWnd: int(info.Snd_wnd), RcvWnd: int(info.Rcv_wnd),
			SndCwnd: int(info.Snd_cwnd), SndMSS: int(info.Snd_mss), BytesAcked: info.Bytes_acked,
			TotalRetrans: int(info.Total_retrans), TotalRTO: int(info.Total_rto)}
		return nil
	})
	return p, err
}

// control runs f on c's file descriptor.
func control(c net.Conn, f func(fd int) error) error {
	sc, err := sysConn(c)
	if err != nil {
		return err
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := raw.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
