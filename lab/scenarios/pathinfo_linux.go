package scenarios

import (
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

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
