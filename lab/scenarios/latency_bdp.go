package scenarios

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// latencyBDP: a bulk transfer at a fixed RTT whose receiver calls
// SetReadBuffer(B). With the buffer locked, autotuning is off and the
// receive window, not the link, bounds the transfer: throughput ≈
// window / RTT. The window the sender sees (tcpi_snd_wnd, the peer's
// advertised window after scaling) is measured rather than assumed:
// Linux grants SO_RCVBUF = 2·B and advertises the payload share of it,
// window = SO_RCVBUF × scaling_ratio / 256, where scaling_ratio (Linux ≥
// 6.5) is learnt from the received skbs' len/truesize (before 6.5, a fixed
// 1 − 2^−tcp_adv_win_scale = ½). The result records both the window and
// its share of the granted buffer.
var latencyBDP = &scenario.Scenario{
	ID:      "latency-bdp",
	Section: "6 The network in between",
	Title:   "bulk transfer at a fixed RTT, SetReadBuffer sweep: throughput ≈ window / RTT",
	Timeout: 60 * time.Second,
	Weight: func(k scenario.Knobs) time.Duration {
		return probed + k.Duration("client.warmup") + k.Duration("client.measure")
	},
	Knobs: []scenario.Knob{
		knobLatencyRTT,
		{Name: "server.read_buffer", Default: "65536", Kind: scenario.Int, Min: 4096, Max: 16 << 20,
			Help: "the receiver's SetReadBuffer (bytes; the kernel grants twice that)"},
		{Name: "client.warmup", Default: "1s", Kind: scenario.Duration, Min: 0.2, Max: 10, Help: "sending before measuring (slow start)"},
		{Name: "client.measure", Default: "2s", Kind: scenario.Duration, Min: 0.5, Max: 20, Help: "how long throughput is measured"},
	},
	Cases: []scenario.Knobs{{"server.read_buffer": "16384"}, {"server.read_buffer": "65536"}, {"server.read_buffer": "262144"}},
	Obs:   scenario.ObsOf[LatencyBDPObs](),
	Server: func(s *scenario.ServerEnv) error {
		b := s.Knobs.Int("server.read_buffer")
		return acceptWith(s, func(c net.Conn) {
			if err := c.(*net.TCPConn).SetReadBuffer(b); err != nil {
				s.Publish("rcvbuf", "SetReadBuffer: "+err.Error())
				return
			}
			_, rcv, err := sockBufs(c)
			if err != nil {
				s.Publish("rcvbuf", err.Error())
				return
			}
			s.Publish("rcvbuf", strconv.Itoa(rcv))
			_, _ = io.Copy(io.Discard, c)
		})
	},
	Client: func(e *scenario.Env) error {
		warmup, measure := e.Knobs.Duration("client.warmup"), e.Knobs.Duration("client.measure")
		obs := LatencyBDPObs{RTTMS: rttMS(e), ReadBuffer: e.Knobs.Int("server.read_buffer")}
		c, err := net.DialTimeout("tcp", e.Addr(), 10*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		var granted string
		if err := e.GetWait("rcvbuf", &granted, 10*time.Second); err != nil {
			return err
		}
		if obs.RcvBufGranted, err = strconv.Atoi(granted); err != nil {
			return fmt.Errorf("server: %s", granted)
		}
		done := make(chan error, 1)
		go func() {
			buf := make([]byte, 64<<10)
			for {
				if _, err := c.Write(buf); err != nil {
					done <- err
					return
				}
			}
		}()
		time.Sleep(warmup)
		p1, err := pathOf(c)
		t1 := time.Now()
		var wnds []float64
		for err == nil && time.Since(t1) < measure {
			time.Sleep(measure / 20)
			var p pathInfo
			if p, err = pathOf(c); err == nil {
				wnds = append(wnds, float64(p.SndWnd))
			}
		}
		p2, err2 := pathOf(c)
		t2 := time.Now()
		c.Close()
		// The writer ends on the Close; any other end cut the transfer short.
		werr := <-done
		if errors.Is(werr, net.ErrClosed) {
			werr = nil
		}
		if err := firstNonNil(err, err2, werr); err != nil {
			return err
		}
		slices.Sort(wnds)
		obs.SndWnd, obs.SndWndMin, obs.SndWndMax = int(quantile(wnds, 0.5)), int(wnds[0]), int(wnds[len(wnds)-1])
		obs.TcpiRTTMS, obs.Retrans = msOf(p2.RTT), p2.TotalRetrans-p1.TotalRetrans
		obs.MeasuredBytes, obs.MeasureMS = int64(p2.BytesAcked-p1.BytesAcked), msOf(t2.Sub(t1))
		obs.ThroughputMBps = round2(float64(obs.MeasuredBytes) / t2.Sub(t1).Seconds() / 1e6)
		obs.WindowOverRTTMBps = round2(float64(obs.SndWnd) / p2.RTT.Seconds() / 1e6)
		obs.WindowShare = round2(float64(obs.SndWnd) / float64(obs.RcvBufGranted))
		return e.Record(&obs)
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *LatencyBDPObs, v *scenario.Verdict) {
		im := k.Impairment()
		rb := k.Int("server.read_buffer")
		v.Expect("the kernel grants twice SetReadBuffer", o.RcvBufGranted == 2*rb, "SO_RCVBUF %d for SetReadBuffer(%d)", o.RcvBufGranted, rb)
		v.Expect("the advertised window is part of the granted buffer (0 < window ≤ SO_RCVBUF)",
			o.SndWnd > 0 && o.SndWnd <= o.RcvBufGranted, "tcpi_snd_wnd %d, SO_RCVBUF %d", o.SndWnd, o.RcvBufGranted)
		// The bulk connection's own RTT: never below RTT − jitter, at most
		// 3 ms above, like any connection on the path (measured +0.3 to
		// +1.3 ms at +50 ms, the run Quiet as the harness paces it).
		rtt := fromMS(o.TcpiRTTMS)
		v.Expect("bulk tcpi_rtt: the RTT, never below RTT − jitter, ≤ +3 ms",
			rtt >= im.RTT-im.Jitter && rtt <= im.RTT+3*time.Millisecond, "tcpi_rtt %v, RTT %v", rtt, im.RTT)
		// The interval runs until a sample (every measure/20) finds it
		// over: never short, late by one step and the samples' own time
		// (measured 9–90 ms late on 2 s).
		measure := k.Duration("client.measure")
		v.Timely("the measured interval is client.measure", fromMS(o.MeasureMS), measure, 0.05, 50*time.Millisecond)
		// No loss asked and the window, not the path, is the limit: the
		// delay line drops nothing and releases in time, so nothing is
		// retransmitted.
		v.Expect("nothing retransmitted (no loss asked)", o.Retrans == 0, "%d segments retransmitted", o.Retrans)
		// The receiver reads at once, so its window stays open and the
		// sender keeps at most one window in flight per round trip: never
		// above window / RTT (3 % for sampling the window and the RTT),
		// below it by the ACK clock's gaps, at most 20 % (measured ×0.88
		// to ×0.99 over 16 KiB, 64 KiB and 256 KiB, two runs each).
		thr := float64(o.MeasuredBytes) / (o.MeasureMS / 1000) / 1e6
		wnd := float64(o.SndWnd) / rtt.Seconds() / 1e6
		ratio := thr / wnd
		v.Expect("throughput = window / RTT (×0.80 … ×1.03)", ratio >= 0.8 && ratio <= 1.03,
			"%.2f MB/s measured, %d B / %v = %.2f MB/s (×%.2f)", thr, o.SndWnd, rtt, wnd, ratio)
		v.Headline("+%v RTT, SetReadBuffer(%d) → SO_RCVBUF %d, window %d B (%.0f %%): %.2f MB/s, window/RTT %.2f MB/s",
			im.RTT, rb, o.RcvBufGranted, o.SndWnd, 100*float64(o.SndWnd)/float64(max(o.RcvBufGranted, 1)), thr, wnd)
	}),
	Article: "not in the article: a Go reader's SetReadBuffer caps a WAN transfer at buffer/RTT",
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// LatencyBDPObs is what latency-bdp observed: the receiver's buffer, the
// window the sender saw, and the throughput in the measured interval.
type LatencyBDPObs struct {
	RTTMS         float64 `json:"rtt_ms" tcplab:"info"`           // asked: impair.rtt
	ReadBuffer    int     `json:"read_buffer" tcplab:"info"`      // asked: SetReadBuffer's argument (the report's chart reads it)
	RcvBufGranted int     `json:"rcvbuf_bytes" tcplab:"exact"`    // SO_RCVBUF read back on the receiver
	SndWnd        int     `json:"window_bytes"`                   // tcpi_snd_wnd at the sender, median of 20 samples
	SndWndMin     int     `json:"window_min_bytes" tcplab:"info"` // of the samples
	SndWndMax     int     `json:"window_max_bytes" tcplab:"info"` // of the samples
	WindowShare   float64 `json:"window_share" tcplab:"info"`     // window / SO_RCVBUF
	TcpiRTTMS     float64 `json:"tcpi_rtt_ms"`
	// MeasuredBytes were acknowledged (tcpi_bytes_acked) in MeasureMS,
	// after the warm-up.
	MeasuredBytes     int64   `json:"measured_bytes" tcplab:"headline"`
	MeasureMS         float64 `json:"measure_ms"`
	ThroughputMBps    float64 `json:"throughput_mb_per_s" tcplab:"info"`      // 10^6 B/s, of MeasuredBytes / MeasureMS (the report reads it)
	WindowOverRTTMBps float64 `json:"window_over_rtt_mb_per_s" tcplab:"info"` // window / tcpi_rtt (the report reads it)
	Retrans           int     `json:"retrans"`                                // segments retransmitted in the interval
}
