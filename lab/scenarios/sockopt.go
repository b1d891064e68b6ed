package scenarios

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// Socket state the drivers read back from the kernel. The types here are
// tcplab's own; sockopt_linux.go reads them with getsockopt/ioctl, and
// sockopt_other.go says they need Linux, so this package (imported by the
// host CLI for the registry) builds everywhere.

// sockOpt names an integer socket option.
type sockOpt int

const (
	soSndBuf    sockOpt = iota // SO_SNDBUF
	soRcvBuf                   // SO_RCVBUF
	soReuseAddr                // SO_REUSEADDR
	soKeepAlive                // SO_KEEPALIVE
	soKeepIdle                 // TCP_KEEPIDLE, seconds
	soKeepIntvl                // TCP_KEEPINTVL, seconds
	soKeepCnt                  // TCP_KEEPCNT
	soNoDelay                  // TCP_NODELAY
)

var sockOptNames = [...]string{"SO_SNDBUF", "SO_RCVBUF", "SO_REUSEADDR", "SO_KEEPALIVE",
	"TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT", "TCP_NODELAY"}

func (o sockOpt) String() string { return sockOptNames[o] }

// tcpStat is the part of the kernel's tcp_info the drivers use.
type tcpStat struct {
	State      int    // tcpi_state: TCP_ESTABLISHED=1 … TCP_CLOSE_WAIT=8
	BytesAcked uint64 // tcpi_bytes_acked, the SYN counting as one byte
	RTOus      int    // tcpi_rto: the retransmission timeout, jiffies reported in µs
	RTTus      int    // tcpi_rtt: the smoothed RTT, µs
}

// pathInfo is the part of tcp_info the latency scenarios read: what the
// kernel measured of the path and how it recovered from losses.
type pathInfo struct {
	RTT          time.Duration // tcpi_rtt: smoothed RTT
	SndWnd       int           // tcpi_snd_wnd: the peer's advertised receive window, scaled
	RcvWnd       int           // tcpi_rcv_wnd: the window this side advertises
	SndCwnd      int           // tcpi_snd_cwnd, segments
	SndMSS       int           // tcpi_snd_mss
	BytesAcked   uint64        // tcpi_bytes_acked (the SYN counts as one)
	TotalRetrans int           // tcpi_total_retrans: segments retransmitted
	TotalRTO     int           // tcpi_total_rto: retransmission timeouts
}

// tcpCloseWait is TCP_CLOSE_WAIT in tcp_info's state field: the peer's FIN
// has arrived.
const tcpCloseWait = 8

// errNoTCPInfo: tcp_info came back without its counters. An established
// connection has at least its SYN acknowledged (tcpi_bytes_acked ≥ 1), so
// 0 means the counters are missing, as under qemu-user, which translates
// only part of struct tcp_info.
var errNoTCPInfo = errors.New("TCP_INFO has no counters here (tcpi_bytes_acked 0 on an established connection; qemu-user translates only part of tcp_info)")

// ackedData is tcpi_bytes_acked without the SYN, which Linux counts as one
// acknowledged byte.
func ackedData(info tcpStat) int { return int(info.BytesAcked) - 1 }

// sockBufs reads SO_SNDBUF and SO_RCVBUF as the kernel has them in force
// (Linux reports twice what SetWriteBuffer/SetReadBuffer asked for).
func sockBufs(c net.Conn) (snd, rcv int, err error) {
	sc, err := sysConn(c)
	if err != nil {
		return 0, 0, err
	}
	if snd, err = sockInt(sc, soSndBuf); err != nil {
		return 0, 0, err
	}
	rcv, err = sockInt(sc, soRcvBuf)
	return snd, rcv, err
}

// accepted is how many bytes the kernel has taken from the application's
// Writes on c: those the peer acknowledged (tcpi_bytes_acked; the peer
// holds them in its receive queue while it does not read) plus those still
// in c's send queue. It is what "bytes written before Write blocked" means
// to the kernel, whatever the blocked Write has not returned yet.
func accepted(c net.Conn) (int, error) {
	info, err := tcpInfo(c)
	if err != nil {
		return 0, err
	}
	if info.BytesAcked == 0 {
		return 0, errNoTCPInfo
	}
	_, outq, err := queues(c)
	return ackedData(info) + outq, err
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
func keepAliveOf(c *net.TCPConn) (keepAlive, error) {
	var vals [4]int
	for i, o := range [4]sockOpt{soKeepAlive, soKeepIdle, soKeepIntvl, soKeepCnt} {
		v, err := sockInt(c, o)
		if err != nil {
			return keepAlive{}, err
		}
		vals[i] = v
	}
	return keepAlive{vals[0] != 0, vals[1], vals[2], vals[3]}, nil
}

// sysConn is c's access to its file descriptor.
func sysConn(c net.Conn) (syscall.Conn, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("%T has no SyscallConn", c)
	}
	return sc, nil
}
