package scenarios

import (
	"fmt"
	"io"
	"net"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// latencyNoDelay: opt-nodelay under an added RTT. Each request is two small
// Writes and the server answers once it has both. With NoDelay=false Nagle
// holds the second Write until the first is acknowledged; the server has
// nothing to send yet, so it delays that ACK (Linux's delayed-ACK timer,
// ato = TCP_ATO_MIN, 40 ms). The request then costs one more RTT plus that
// wait; with NoDelay=true (Go's default) it costs one RTT.
var latencyNoDelay = &scenario.Scenario{
	ID:      "latency-nodelay",
	Section: "6 The network in between",
	Title:   "write-write-read requests under RTT: Nagle costs one more RTT (plus the delayed ACK) per request",
	Timeout: 90 * time.Second,
	Weight: func(k scenario.Knobs) time.Duration {
		return probed + time.Duration(k.Int("client.rounds"))*(3*k.Duration("impair.rtt")+40*time.Millisecond)
	},
	// Quiet: a busy CPU skews the Nagle stall under RTT it measures.
	Load: scenario.Quiet,
	Knobs: []scenario.Knob{
		knobLatencyRTT,
		{Name: "client.rounds", Default: "20", Kind: scenario.Int, Min: 5, Max: 1000, Help: "requests per NoDelay setting"},
		knobPart,
	},
	Obs:    scenario.ObsOf[LatencyNoDelayObs](),
	Server: answerTwoParts,
	Client: func(e *scenario.Env) error {
		rounds, part := e.Knobs.Int("client.rounds"), e.Knobs.Int("client.part")
		rtt := e.Knobs.Duration("impair.rtt")
		obs := LatencyNoDelayObs{RTTMS: rttMS(e), Rounds: rounds}
		for _, nd := range []bool{false, true} {
			c, err := net.DialTimeout("tcp", e.Addr(), 10*time.Second)
			if err != nil {
				return err
			}
			err = c.(*net.TCPConn).SetNoDelay(nd)
			if err == nil {
				err = c.SetDeadline(time.Now().Add(time.Duration(rounds)*(3*rtt+time.Second) + 10*time.Second))
			}
			req, resp := make([]byte, part), make([]byte, 8)
			var ms []float64
			for i := 0; i < rounds && err == nil; i++ {
				start := time.Now()
				_, err1 := c.Write(req)
				_, err2 := c.Write(req)
				_, err3 := io.ReadFull(c, resp)
				err = firstNonNil(err1, err2, err3)
				ms = append(ms, msOf(time.Since(start)))
			}
			var p pathInfo
			if err == nil {
				p, err = pathOf(c)
			}
			c.Close()
			if err != nil {
				return fmt.Errorf("NoDelay=%v: %w", nd, err)
			}
			s := sortedCopy(ms)
			if nd {
				obs.NoDelayTrueMS, obs.NoDelayTrueP50MS, obs.NoDelayTrueMaxMS = ms, quantile(s, 0.5), s[len(s)-1]
			} else {
				obs.NoDelayFalseMS, obs.NoDelayFalseP50MS, obs.NoDelayFalseMaxMS = ms, quantile(s, 0.5), s[len(s)-1]
			}
			obs.TcpiRTTMS = msOf(p.RTT)
		}
		obs.StallMS = round2(obs.NoDelayFalseP50MS - obs.NoDelayTrueP50MS)
		return e.Record(&obs)
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *LatencyNoDelayObs, v *scenario.Verdict) {
		im := k.Impairment()
		rtt, rounds, part := im.RTT, k.Int("client.rounds"), k.Int("client.part")
		v.Expect("one time per request and setting", len(o.NoDelayFalseMS) == rounds && len(o.NoDelayTrueMS) == rounds,
			"%d and %d times, %d rounds", len(o.NoDelayFalseMS), len(o.NoDelayTrueMS), rounds)
		if len(o.NoDelayFalseMS) == 0 || len(o.NoDelayTrueMS) == 0 {
			return
		}
		pf, pt := quantile(sortedCopy(o.NoDelayFalseMS), 0.5), quantile(sortedCopy(o.NoDelayTrueMS), 0.5)
		// NoDelay=true: both parts leave at once, the answer comes one
		// RTT later; late by the delay line's release and the server's
		// turn (10 % + 3 ms).
		v.Timely("NoDelay=true: one RTT per request (p50)", fromMS(pt), rtt, 0.1, 3*time.Millisecond)
		// NoDelay=false: the first part leaves, Nagle holds the second
		// until it is acknowledged. The server has nothing to send before
		// the second part, and after the first answer the connection is in
		// ping-pong mode, so it delays that ACK: the delayed-ACK timer
		// runs ato = TCP_ATO_MIN = 40 ms (the SRTT cap applies only above
		// 40 ms). The ACK then takes RTT/2 back, the second part RTT/2
		// out: the request costs one RTT plus 40 ms more than with
		// NoDelay. Late: the timer's jiffy (4 ms at HZ=250) and the delay
		// line, 5 % + 4 ms, so neither a missing delayed ACK (RTT) nor a
		// second extra round trip passes.
		stall := fromMS(pf) - fromMS(pt)
		v.Timely("NoDelay=false: Nagle stalls one RTT + the 40 ms delayed ACK (p50 false − p50 true)", stall, rtt+40*time.Millisecond, 0.05, 4*time.Millisecond)
		tcpi := fromMS(o.TcpiRTTMS)
		v.Expect("tcpi_rtt: the RTT, never below RTT − jitter, ≤ +3 ms", tcpi >= im.RTT-im.Jitter && tcpi <= im.RTT+3*time.Millisecond,
			"tcpi_rtt %v, RTT %v, jitter %v", tcpi, rtt, im.Jitter)
		v.Headline("+%v RTT, %d requests of two %d-byte Writes: NoDelay=false p50 %.1f ms, NoDelay=true p50 %.1f ms: Nagle stalls %.1f ms each",
			rtt, rounds, part, pf, pt, pf-pt)
	}),
	Article: "the article only listed SetNoDelay; under a WAN RTT turning it off costs an RTT or more per request",
}

// LatencyNoDelayObs is what latency-nodelay observed: each request's time
// (two Writes and the reply), per NoDelay setting, in order.
type LatencyNoDelayObs struct {
	RTTMS             float64   `json:"rtt_ms" tcplab:"info"` // asked: impair.rtt
	Rounds            int       `json:"rounds" tcplab:"info"` // asked: client.rounds
	NoDelayFalseMS    []float64 `json:"nodelay_false_ms" tcplab:"headline"`
	NoDelayTrueMS     []float64 `json:"nodelay_true_ms"`
	NoDelayFalseP50MS float64   `json:"nodelay_false_p50_ms" tcplab:"info"` // of NoDelayFalseMS
	NoDelayFalseMaxMS float64   `json:"nodelay_false_max_ms" tcplab:"info"`
	NoDelayTrueP50MS  float64   `json:"nodelay_true_p50_ms" tcplab:"info"` // of NoDelayTrueMS
	NoDelayTrueMaxMS  float64   `json:"nodelay_true_max_ms" tcplab:"info"`
	StallMS           float64   `json:"stall_ms" tcplab:"info"` // p50 false − p50 true: Nagle's cost per request
	TcpiRTTMS         float64   `json:"tcpi_rtt_ms"`            // of the NoDelay=true connection
}
