package scenarios

import (
	"io"
	"net"
	"sync"
	"time"

	"github.com/tcplab/tcplab/lab/kernel"
	"github.com/tcplab/tcplab/lab/scenario"
)

// lossRetransmit: request/response on one connection at a fixed RTT while
// a fraction of the lab port's packets is lost in each direction. Most
// requests take one RTT; a lost request or response stalls until the
// sender recovers. The catalogue's "tail loss probe ≈ 2×SRTT" holds with
// several segments in flight; a request or response is one segment, and
// then Linux arms the probe at 2×SRTT + tcp_rto_min, capped by the RTO
// (SRTT + at least 200 ms): measured here, every stall was SRTT + 200 to
// 210 ms (TCPLossProbes counted them, not TCPTimeouts). A lost probe ends
// in a retransmission timeout, doubled each time. A lost SYN costs 1 s. The tail of the latency distribution is those recoveries, so
// the result records them from both ends: each connection's tcp_info and
// each namespace's TcpExt counters over the requests.
var lossRetransmit = &scenario.Scenario{
	ID:      "loss-retransmit",
	Section: "6 The network in between",
	Title:   "request/response under loss: p50 stays at the RTT, the tail is the recoveries",
	Timeout: 90 * time.Second,
	Knobs: []scenario.Knob{
		withDefault("impair.rtt", "20ms"),
		withDefault("impair.loss", "0.01"),
		{Name: "client.requests", Default: "200", Kind: scenario.Int, Min: 20, Max: 5000, Help: "requests on one connection"},
		{Name: "client.size", Default: "100", Kind: scenario.Int, Min: 1, Max: 1400, Help: "bytes of each request and response (one segment)"},
	},
	Cases: []scenario.Knobs{{"impair.loss": "0"}, {"impair.loss": "0.01"}, {"impair.loss": "0.05"}},
	Obs:   scenario.ObsOf[LossRetransmitObs](),
	Server: func(s *scenario.ServerEnv) error {
		size := s.Knobs.Int("client.size")
		var mu sync.Mutex
		var conn net.Conn
		go func() {
			if s.Await("start") != nil {
				return
			}
			before := tcpExt()
			if s.Await("done") != nil {
				return
			}
			side := LossSide{TcpExt: diffCounters(tcpExt(), before)}
			mu.Lock()
			if conn != nil {
				if p, err := pathOf(conn); err == nil {
					side.Retrans, side.RTOs, side.SRTTMS = p.TotalRetrans, p.TotalRTO, msOf(p.RTT)
				}
			}
			mu.Unlock()
			s.Publish("server", side)
		}()
		return acceptWith(s, func(c net.Conn) {
			mu.Lock()
			conn = c
			mu.Unlock()
			buf := make([]byte, size)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		})
	},
	Client: func(e *scenario.Env) error {
		n, size := e.Knobs.Int("client.requests"), e.Knobs.Int("client.size")
		rtt, loss := e.Knobs.Duration("impair.rtt"), e.Knobs.Float("impair.loss")
		obs := LossRetransmitObs{RTTMS: rttMS(e), Loss: loss, Requests: n}
		if err := e.Signal("start"); err != nil {
			return err
		}
		before := tcpExt()
		start := time.Now()
		c, err := net.DialTimeout("tcp", e.Addr(), 20*time.Second)
		obs.ConnectMS = msOf(time.Since(start))
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.SetDeadline(time.Now().Add(60 * time.Second)); err != nil {
			return err
		}
		buf := make([]byte, size)
		for range n {
			t := time.Now()
			if _, err := c.Write(buf); err != nil {
				return err
			}
			if _, err := io.ReadFull(c, buf); err != nil {
				return err
			}
			obs.LatencyMS = append(obs.LatencyMS, msOf(time.Since(t)))
		}
		p, err := pathOf(c)
		if err != nil {
			return err
		}
		if err := e.Signal("done"); err != nil {
			return err
		}
		obs.Client = LossSide{Retrans: p.TotalRetrans, RTOs: p.TotalRTO, SRTTMS: msOf(p.RTT), TcpExt: diffCounters(tcpExt(), before)}
		if err := e.GetWait("server", &obs.Server, 5*time.Second); err != nil {
			return err
		}
		s := sortedCopy(obs.LatencyMS)
		obs.P50MS, obs.P99MS, obs.MaxMS = quantile(s, 0.5), quantile(s, 0.99), s[len(s)-1]
		// A stall is a request slower than the RTT by at least the earliest
		// loss probe, 2×SRTT less a jiffy (4 ms); anything less is the
		// scheduler, not TCP.
		srtt := min(obs.Client.SRTTMS, obs.Server.SRTTMS)
		obs.MinStallMS = -1
		for _, v := range obs.LatencyMS {
			if stall := v - obs.RTTMS; stall >= 2*srtt-4 {
				obs.Stalled++
				if obs.MinStallMS < 0 || stall < obs.MinStallMS {
					obs.MinStallMS = round2(stall)
				}
			}
		}
		retrans, rtos := obs.Client.Retrans+obs.Server.Retrans, obs.Client.RTOs+obs.Server.RTOs
		ext := func(name string) int64 { return obs.Client.TcpExt[name] + obs.Server.TcpExt[name] }
		if err := e.Record(&obs); err != nil {
			return err
		}
		ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
		e.Expect("p50 near the RTT (≤ +10 % + 3 ms)", scenario.OnTime(ms(obs.P50MS), rtt, 0.1, 3*time.Millisecond), "p50 %.2f ms, RTT %v", obs.P50MS, rtt)
		e.Expect("the handshake: one RTT, or a lost SYN's 1 s", obs.ConnectMS >= msOf(rtt) &&
			(obs.ConnectMS <= msOf(rtt)*1.1+5 || obs.ConnectMS >= 1000+msOf(rtt)), "connect %.2f ms", obs.ConnectMS)
		if loss == 0 {
			e.Expect("no loss: no retransmission and no stall", retrans == 0 && obs.Stalled == 0,
				"%d retransmitted, %d stalled, max %.2f ms", retrans, obs.Stalled, obs.MaxMS)
		}
		e.Expect("every stall has a retransmission behind it", obs.Stalled <= retrans,
			"%d stalled requests, %d segments retransmitted (client %d, server %d)", obs.Stalled, retrans, obs.Client.Retrans, obs.Server.Retrans)
		if obs.Stalled > 0 {
			// One segment in flight: the probe timer (2×SRTT + tcp_rto_min)
			// is capped by the RTO, itself SRTT + at least 200 ms, so no
			// recovery comes before SRTT + 200 ms (less a jiffy).
			e.Expect("each stall waits for the probe timer: ≥ SRTT + 200 ms (one segment in flight)", obs.MinStallMS >= srtt+200-4,
				"shortest stall %.2f ms, SRTT %.2f ms", obs.MinStallMS, srtt)
		}
		if rtos > 0 {
			e.Expect("a retransmission timeout shows in the tail (≥ RTT + 200 ms)", obs.MaxMS >= msOf(rtt)+200,
				"%d RTOs, max %.2f ms", rtos, obs.MaxMS)
		}
		if retrans > 0 {
			e.Expect("the namespaces counted the recoveries (TCPLossProbes + TCPTimeouts)", ext("TCPLossProbes")+ext("TCPTimeouts") > 0,
				"TCPLossProbes %d, TCPTimeouts %d", ext("TCPLossProbes"), ext("TCPTimeouts"))
		}
		e.Headline("+%v RTT, loss %g: %d requests p50 %.1f / p99 %.1f / max %.1f ms; %d stalled; retrans %d (RTOs %d), TCPLossProbes %d, TCPTimeouts %d",
			rtt, loss, n, obs.P50MS, obs.P99MS, obs.MaxMS, obs.Stalled, retrans, rtos, ext("TCPLossProbes"), ext("TCPTimeouts"))
		return nil
	},
	Article: "not in the article: on a lossy path a Go client's tail latency is TCP's recovery timers",
}

// recoveryCounters are the TcpExt counters the result keeps.
var recoveryCounters = []string{"TCPLossProbes", "TCPLossProbeRecovery", "TCPTimeouts", "TCPSynRetrans",
	"TCPFastRetrans", "TCPSpuriousRTOs", "TCPDSACKRecv"}

// tcpExt reads recoveryCounters in this network namespace (nil where
// /proc/net is missing: the differences then read 0).
func tcpExt() map[string]int64 {
	all, err := kernel.Netstat("TcpExt")
	if err != nil {
		return nil
	}
	out := map[string]int64{}
	for _, n := range recoveryCounters {
		out[n] = all[n]
	}
	return out
}

func diffCounters(after, before map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for _, n := range recoveryCounters {
		out[n] = after[n] - before[n]
	}
	return out
}

// LossSide is one end's recoveries over the requests: its connection's
// tcp_info and its namespace's TcpExt counters (differences).
type LossSide struct {
	Retrans int              `json:"retrans"` // tcpi_total_retrans
	RTOs    int              `json:"rtos"`    // tcpi_total_rto (Linux ≥ 6.7)
	SRTTMS  float64          `json:"srtt_ms"` // tcpi_rtt at the end
	TcpExt  map[string]int64 `json:"tcp_ext"`
}

// LossRetransmitObs is what loss-retransmit observed.
type LossRetransmitObs struct {
	RTTMS     float64   `json:"rtt_ms"` // asked: impair.rtt
	Loss      float64   `json:"loss"`   // asked: impair.loss
	Requests  int       `json:"requests"`
	ConnectMS float64   `json:"connect_ms"`
	LatencyMS []float64 `json:"latency_ms"` // each request, in order
	P50MS     float64   `json:"p50_ms"`
	P99MS     float64   `json:"p99_ms"`
	MaxMS     float64   `json:"max_ms"`
	// Stalled requests took longer than the RTT + 2×SRTT − 4 ms (the
	// earliest loss probe); MinStallMS is the shortest such excess (-1 for
	// none).
	Stalled    int      `json:"stalled"`
	MinStallMS float64  `json:"min_stall_ms"`
	Client     LossSide `json:"client"`
	Server     LossSide `json:"server"`
}
