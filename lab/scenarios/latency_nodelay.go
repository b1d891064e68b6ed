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
// capped at max(SRTT, TCP_DELACK_MIN = 40 ms) while the RTT is known). The
// request then costs one more RTT plus that wait; with NoDelay=true (Go's
// default) it costs one RTT.
var latencyNoDelay = &scenario.Scenario{
	ID:      "latency-nodelay",
	Section: "6 The network in between",
	Title:   "write-write-read requests under RTT: Nagle costs one more RTT (plus the delayed ACK) per request",
	Timeout: 90 * time.Second,
	Knobs: []scenario.Knob{
		withDefault("impair.rtt", "50ms"),
		{Name: "client.rounds", Default: "20", Kind: scenario.Int, Min: 5, Max: 1000, Help: "requests per NoDelay setting"},
		{Name: "client.part", Default: "16", Kind: scenario.Int, Min: 1, Max: 512, Help: "bytes in each of the two Writes"},
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
		if err := e.Record(&obs); err != nil {
			return err
		}
		ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
		// The delayed ACK waits at most max(SRTT, 40 ms) once the RTT is
		// known; 10 ms of slack for jiffies and scheduling.
		delack := max(rtt, 40*time.Millisecond)
		e.Expect("NoDelay=true: one RTT per request (≤ +10 % + 3 ms)", scenario.OnTime(ms(obs.NoDelayTrueP50MS), rtt, 0.1, 3*time.Millisecond),
			"p50 %.2f ms, RTT %v", obs.NoDelayTrueP50MS, rtt)
		e.Expect("NoDelay=false: a stall of one more RTT, plus at most the delayed ACK", scenario.OnTime(ms(obs.StallMS), rtt-time.Millisecond, 0, delack+10*time.Millisecond),
			"p50 %.2f − %.2f = %.2f ms; RTT %v, delayed ACK ≤ %v", obs.NoDelayFalseP50MS, obs.NoDelayTrueP50MS, obs.StallMS, rtt, delack)
		e.Expect("tcpi_rtt within +3 ms of the RTT (never below RTT − jitter)", within3(ms(obs.TcpiRTTMS), e), "tcpi_rtt %.2f ms", obs.TcpiRTTMS)
		e.Headline("+%v RTT, %d requests of two %d-byte Writes: NoDelay=false p50 %.1f ms, NoDelay=true p50 %.1f ms: Nagle stalls %.1f ms each",
			rtt, rounds, part, obs.NoDelayFalseP50MS, obs.NoDelayTrueP50MS, obs.StallMS)
		return nil
	},
	Article: "the article only listed SetNoDelay; under a WAN RTT turning it off costs an RTT or more per request",
}

// LatencyNoDelayObs is what latency-nodelay observed: each request's time
// (two Writes and the reply), per NoDelay setting, in order.
type LatencyNoDelayObs struct {
	RTTMS             float64   `json:"rtt_ms"` // asked: impair.rtt
	Rounds            int       `json:"rounds"`
	NoDelayFalseMS    []float64 `json:"nodelay_false_ms"`
	NoDelayTrueMS     []float64 `json:"nodelay_true_ms"`
	NoDelayFalseP50MS float64   `json:"nodelay_false_p50_ms"`
	NoDelayFalseMaxMS float64   `json:"nodelay_false_max_ms"`
	NoDelayTrueP50MS  float64   `json:"nodelay_true_p50_ms"`
	NoDelayTrueMaxMS  float64   `json:"nodelay_true_max_ms"`
	StallMS           float64   `json:"stall_ms"`    // p50 false − p50 true: Nagle's cost per request
	TcpiRTTMS         float64   `json:"tcpi_rtt_ms"` // of the NoDelay=true connection
}
