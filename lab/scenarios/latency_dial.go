package scenarios

import (
	"context"
	"fmt"
	"net"
	"strings"
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
	Weight: func(k scenario.Knobs) time.Duration {
		return probed + time.Duration(k.Int("client.dials")+20+2*articleDials)*k.Duration("impair.rtt")
	},
	// Quiet: a busy CPU skews its +2 ms.
	Load: scenario.Quiet,
	Knobs: []scenario.Knob{
		knobLatencyRTT,
		{Name: "client.dials", Default: "20", Kind: scenario.Int, Min: 5, Max: 200, Help: "timed dials (connect p50 over them)"},
	},
	// The bare bridge (impair.rtt=0) is no case: its connect time of a
	// tenth of a millisecond has no mechanism that pins it from below.
	Cases:  rttCases("10ms", "50ms", "200ms"),
	Obs:    scenario.ObsOf[LatencyDialObs](),
	Server: echoServer,
	Client: func(e *scenario.Env) error {
		rtt, n := e.Knobs.Duration("impair.rtt"), e.Knobs.Int("client.dials")
		obs := LatencyDialObs{RTTMS: rttMS(e)}
		var d net.Dialer
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
					obs.TcpiRTTMS = msOf(p.RTT)
				}
			}
			c.Close()
			if err != nil {
				return err
			}
		}
		sorted := sortedCopy(obs.ConnectMS)
		obs.ConnectMSP50, obs.ConnectMSMax = quantile(sorted, 0.5), sorted[len(sorted)-1]

		// The article's case: a deadline shorter than the RTT, then none,
		// articleDials times each, so that one descheduled dial is not
		// the figure.
		if rtt > 0 {
			short := rtt / 2
			obs.ShortDeadlineMS = msOf(short)
			for range articleDials {
				took, err := timedDial(e, short)
				obs.ShortDialMS, obs.ShortDialErrors = append(obs.ShortDialMS, msOf(took)), append(obs.ShortDialErrors, scenario.Classify(err))
				took, err = timedDial(e, 10*time.Second)
				obs.NoDeadlineDialMS, obs.NoDeadlineErrors = append(obs.NoDeadlineDialMS, msOf(took)), append(obs.NoDeadlineErrors, scenario.Classify(err))
			}
		}
		return e.Record(&obs)
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *LatencyDialObs, v *scenario.Verdict) {
		im := k.Impairment()
		rtt, n := im.RTT, k.Int("client.dials")
		v.Expect("one connect time per dial", len(o.ConnectMS) == n, "%d connect times, %d dials", len(o.ConnectMS), n)
		if len(o.ConnectMS) == 0 {
			return
		}
		sorted := sortedCopy(o.ConnectMS)
		p50, first := fromMS(quantile(sorted, 0.5)), fromMS(sorted[0])
		if rtt > 0 {
			// The handshake is one round trip through both delay lines:
			// the SYN waits RTT/2 on the server's ingress, the SYN-ACK
			// RTT/2 on the client's, so no dial returns before the RTT.
			// Late: the lines release within about 0.5 ms and Go's dial
			// adds about 0.2 ms, so the median is at most 2 ms late (the
			// issue's target; measured 0.85–1.13 ms late at 10, 50 and
			// 200 ms, two runs each).
			v.Expect("no dial connects before one RTT (the delay line holds SYN and SYN-ACK)", first >= rtt-im.Jitter,
				"fastest %v, RTT %v, jitter %v", first, rtt, im.Jitter)
			v.Timely("connect p50: one RTT", p50, rtt, 0, 2*time.Millisecond)
		} else {
			// The bare bridge: a round trip of a tenth of a millisecond,
			// bounded only from above.
			v.Expect("connect p50 on the bare bridge ≤ 2 ms", p50 <= 2*time.Millisecond, "p50 %v", p50)
		}
		// The kernel's smoothed RTT after twenty round trips: never below
		// the asked RTT less its jitter, at most 3 ms above it.
		tcpi := fromMS(o.TcpiRTTMS)
		v.Expect("tcpi_rtt: the RTT, never below RTT − jitter, ≤ +3 ms", tcpi >= im.RTT-im.Jitter && tcpi <= im.RTT+3*time.Millisecond,
			"tcpi_rtt %v, RTT %v, jitter %v", tcpi, rtt, im.Jitter)
		head := fmt.Sprintf("+%v RTT: connect p50 %v (max %v), tcpi_rtt %v", rtt, p50, fromMS(sorted[len(sorted)-1]), tcpi)
		if rtt > 0 {
			short := rtt / 2
			n := len(o.ShortDialMS)
			v.Expect("the article's dials: each of them, with and without the deadline",
				n == articleDials && len(o.ShortDialErrors) == n && len(o.NoDeadlineDialMS) == n && len(o.NoDeadlineErrors) == n,
				"%d, %d, %d and %d, want %d", n, len(o.ShortDialErrors), len(o.NoDeadlineDialMS), len(o.NoDeadlineErrors), articleDials)
			if n == 0 || len(o.NoDeadlineDialMS) == 0 {
				return
			}
			// Go arms the deadline inside the call and the SYN-ACK cannot
			// come before the RTT: "i/o timeout" at the deadline, never
			// early; the median late by the poller and scheduling (1/8 +
			// 3 ms: twice a 5 ms deadline must fail; measured 0.3–0.9 ms
			// late; one dial of five may be descheduled, the median not).
			timeouts := 0
			for _, e := range o.ShortDialErrors {
				if e.Timeout && strings.HasSuffix(e.Text, "i/o timeout") {
					timeouts++
				}
			}
			v.Expect("a DialTimeout shorter than the RTT fails with \"i/o timeout\"", timeouts == len(o.ShortDialErrors),
				"DialTimeout(%v) → %+v", short, o.ShortDialErrors)
			shorts := sortedCopy(o.ShortDialMS)
			v.Expect("… never before its deadline", fromMS(shorts[0]) >= short, "fastest %.2f ms, deadline %v", shorts[0], short)
			v.Timely("… at its deadline (median)", fromMS(quantile(shorts, 0.5)), short, 1.0/8, 3*time.Millisecond)
			connected := 0
			for _, e := range o.NoDeadlineErrors {
				if e.Kind == "none" {
					connected++
				}
			}
			v.Expect("the same dial without a deadline connects", connected == len(o.NoDeadlineErrors), "%+v", o.NoDeadlineErrors)
			// The median of the article's dials: 2 % more (one dial was
			// measured 0.5–1.8 ms late at 10–200 ms).
			longs := sortedCopy(o.NoDeadlineDialMS)
			v.Expect("… never before one RTT", fromMS(longs[0]) >= rtt-im.Jitter, "fastest %.2f ms, RTT %v, jitter %v", longs[0], rtt, im.Jitter)
			v.Timely("… after one RTT (median)", fromMS(quantile(longs, 0.5)), rtt, 0.02, 2*time.Millisecond)
			head += fmt.Sprintf("; DialTimeout(%v) → i/o timeout after %.2f ms (median); no deadline → connected after %.2f ms (median)", short,
				quantile(shorts, 0.5), quantile(longs, 0.5))
		}
		v.Headline("%s", head)
	}),
	Article: "the article's \"large network delay\" case had no numbers: it needed a slow public address; the lab adds the RTT between its own containers",
}

// LatencyDialObs is what latency-dial observed at one added RTT.
type LatencyDialObs struct {
	RTTMS        float64   `json:"rtt_ms" tcplab:"info"`         // asked: impair.rtt (the report's chart reads it)
	ConnectMS    []float64 `json:"connect_ms" tcplab:"headline"` // each timed dial, in order
	ConnectMSP50 float64   `json:"connect_ms_p50" tcplab:"info"` // of ConnectMS, for the report
	ConnectMSMax float64   `json:"connect_ms_max" tcplab:"info"` // of ConnectMS, for the report
	// TcpiRTTMS is the kernel's smoothed RTT of the first connection after
	// twenty one-byte round trips (TCP_INFO tcpi_rtt).
	TcpiRTTMS float64 `json:"tcpi_rtt_ms"`
	// The article's case, at RTT > 0: a DialTimeout of half the RTT, then
	// the same dial without a deadline, articleDials times each.
	ShortDeadlineMS  float64            `json:"short_deadline_ms" tcplab:"info"` // RTT/2
	ShortDialMS      []float64          `json:"short_dial_ms"`
	ShortDialErrors  []scenario.ErrInfo `json:"short_dial_errors"`
	NoDeadlineDialMS []float64          `json:"no_deadline_dial_ms"`
	NoDeadlineErrors []scenario.ErrInfo `json:"no_deadline_errors"`
}

// articleDials is how many times latency-dial repeats the article's two
// dials: the median of five is the figure, whatever one dial's scheduling.
const articleDials = 5

// timedDial dials the server with timeout, closes what it got, and says
// how long the dial took and how it ended. The deadline counts from the
// clock read that starts the timing, as net.DialTimeout's does: a
// deadline armed before it would make a descheduled dial look early.
func timedDial(e *scenario.Env, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithDeadline(e.Ctx, start.Add(timeout))
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", e.Addr())
	took := time.Since(start)
	if c != nil {
		c.Close()
	}
	return took, err
}
