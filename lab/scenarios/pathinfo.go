package scenarios

import (
	"sort"
	"time"
)

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

// quantile of sorted values (nearest rank); 0 for none.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func sortedCopy(v []float64) []float64 {
	out := append([]float64(nil), v...)
	sort.Float64s(out)
	return out
}

// msOf is a duration in ms to 0.01 ms, for latency figures.
func msOf(d time.Duration) float64 { return float64(d.Microseconds()/10) / 100 }
