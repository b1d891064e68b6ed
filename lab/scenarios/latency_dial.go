package scenarios

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// latencyDial: the article's "large network delay" case. With an added RTT
// the handshake takes one RTT, so connect time follows the RTT; a
// DialTimeout shorter than the RTT returns "i/o timeout" at its deadline
// although the server is there, and the same dial without a deadline
// succeeds after one RTT. The RTT is held by the delay line (or netem) in
// both namespaces, so the SYN/SYN-ACK exchange is delayed too, which a
// userspace proxy cannot do.
var latencyDial = &scenario.Scenario{
	ID:      "latency-dial",
	Section: "6 The network in between",
	Title:   "dials with added RTT: connect time follows it; a DialTimeout below the RTT times out",
	Timeout: 60 * time.Second,
	Knobs: []scenario.Knob{
		withDefault("impair.rtt", "50ms"),
		{Name: "client.dials", Default: "20", Kind: scenario.Int, Min: 5, Max: 200, Help: "timed dials (connect p50 over them)"},
	},
	Cases:  rttCases("0s", "10ms", "50ms", "200ms"),
	Obs:    scenario.ObsOf[LatencyDialObs](),
	Server: echoServer,
	Client: func(e *scenario.Env) error {
		rtt, n := e.Knobs.Duration("impair.rtt"), e.Knobs.Int("client.dials")
		obs := LatencyDialObs{RTTMS: rttMS(e)}
		var d net.Dialer
		var tcpi time.Duration
		for i := range n {
			start := time.Now()
			c, err := d.DialContext(e.Ctx, "tcp", e.Addr())
			took := time.Since(start)
			if err != nil {
				return err
			}
			obs.ConnectMS = append(obs.ConnectMS, msOf(took))
			if i == 0 {
				err = c.SetDeadline(time.Now().Add(20 * time.Second))
				if err == nil {
					err = echoes(c, 20)
				}
				if err == nil {
					var p pathInfo
					p, err = pathOf(c)
					tcpi = p.RTT
				}
			}
			c.Close()
			if err != nil {
				return err
			}
		}
		sorted := sortedCopy(obs.ConnectMS)
		obs.ConnectMSP50, obs.ConnectMSMax = quantile(sorted, 0.5), sorted[len(sorted)-1]
		obs.TcpiRTTMS = msOf(tcpi)
		p50 := time.Duration(obs.ConnectMSP50 * float64(time.Millisecond))

		// The article's case: a deadline shorter than the RTT, then none.
		short := rtt / 2
		if rtt > 0 {
			obs.ShortDeadlineMS = msOf(short)
			start := time.Now()
			c, err := net.DialTimeout("tcp", e.Addr(), short)
			took := time.Since(start)
			if c != nil {
				c.Close()
			}
			obs.ShortDialMS, obs.ShortDialError = msOf(took), scenario.Classify(err)
			// Go arms the deadline inside the call: never early; late by
			// the poller and scheduling, 1/8 plus 5 ms.
			e.Expect("a DialTimeout shorter than the RTT: \"i/o timeout\" at its deadline", isIOTimeout(err) &&
				scenario.OnTime(took, short, 1.0/8, 5*time.Millisecond), "DialTimeout(%v) → %v after %.2f ms", short, err, msOf(took))
			ctx, cancel := context.WithTimeout(e.Ctx, 10*time.Second)
			start = time.Now()
			c, err = d.DialContext(ctx, "tcp", e.Addr())
			took = time.Since(start)
			cancel()
			if c != nil {
				c.Close()
			}
			obs.NoDeadlineDialMS, obs.NoDeadlineError = msOf(took), scenario.Classify(err)
			e.Expect("the same dial without a deadline succeeds after one RTT", err == nil && took >= rtt,
				"%v after %.2f ms", err, msOf(took))
		}
		if err := e.Record(&obs); err != nil {
			return err
		}
		// The handshake is one round trip: never shorter than the RTT; the
		// delay line releases within about 0.5 ms and Go's dial adds
		// about 0.2 ms, so 2 ms late is the bound (the target).
		e.Expect("connect p50 ≥ the RTT, ≤ RTT + 2 ms", scenario.OnTime(p50, rtt, 0, 2*time.Millisecond),
			"p50 %.2f ms, RTT %v", obs.ConnectMSP50, rtt)
		e.Expect("tcpi_rtt within +3 ms of the RTT (never below RTT − jitter)", within3(tcpi, e),
			"tcpi_rtt %.2f ms, RTT %v", obs.TcpiRTTMS, rtt)
		head := fmt.Sprintf("+%v RTT: connect p50 %.2f ms (max %.2f), tcpi_rtt %.2f ms", rtt, obs.ConnectMSP50, obs.ConnectMSMax, obs.TcpiRTTMS)
		if rtt > 0 {
			head += fmt.Sprintf("; DialTimeout(%v) → %s after %.2f ms; no deadline → %s after %.2f ms", short,
				obs.ShortDialError.Kind, obs.ShortDialMS, obs.NoDeadlineError.Kind, obs.NoDeadlineDialMS)
		}
		e.Headline("%s", head)
		return nil
	},
	Article: "the article's \"large network delay\" case had no numbers: it needed a slow public address; the lab adds the RTT between its own containers",
}

// LatencyDialObs is what latency-dial observed at one added RTT.
type LatencyDialObs struct {
	RTTMS        float64   `json:"rtt_ms"`     // asked: impair.rtt
	ConnectMS    []float64 `json:"connect_ms"` // each timed dial, in order
	ConnectMSP50 float64   `json:"connect_ms_p50"`
	ConnectMSMax float64   `json:"connect_ms_max"`
	// TcpiRTTMS is the kernel's smoothed RTT of the first connection after
	// twenty one-byte round trips (TCP_INFO tcpi_rtt).
	TcpiRTTMS float64 `json:"tcpi_rtt_ms"`
	// The article's case, at RTT > 0: a DialTimeout of half the RTT, then
	// the same dial without a deadline.
	ShortDeadlineMS  float64          `json:"short_deadline_ms"`
	ShortDialMS      float64          `json:"short_dial_ms"`
	ShortDialError   scenario.ErrInfo `json:"short_dial_error"`
	NoDeadlineDialMS float64          `json:"no_deadline_dial_ms"`
	NoDeadlineError  scenario.ErrInfo `json:"no_deadline_error"`
}
