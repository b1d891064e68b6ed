package scenarios

import (
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// optNoDelay: each request is two small Writes and the server answers only
// once it has both. With Nagle on (NoDelay false) the second part waits for
// the ACK of the first, and the server delays that ACK (it has nothing to
// send yet) until Linux's delayed-ACK timer fires: TCP_DELACK_MIN, 40 ms.
// Go's default, NoDelay true, sends the second part at once.
var optNoDelay = &scenario.Scenario{
	ID:      "opt-nodelay",
	Section: "4 Socket options",
	Title:   "request in two small Writes: Nagle + delayed ACK stall with NoDelay=false",
	Timeout: 60 * time.Second,
	Knobs: []scenario.Knob{
		{Name: "client.rounds", Default: "50", Kind: scenario.Int, Min: 50, Max: 1000, Help: "round trips per NoDelay setting"},
		{Name: "client.part", Default: "16", Kind: scenario.Int, Min: 1, Max: 512, Help: "bytes in each of the two Writes"},
	},
	Obs:    scenario.ObsOf[OptNoDelayObs](),
	Server: answerTwoParts,
	Client: func(e *scenario.Env) error {
		rounds, part := e.Knobs.Int("client.rounds"), e.Knobs.Int("client.part")
		type stat struct {
			P50, P99      float64
			Option        int // TCP_NODELAY read back
			DefaultOption int // TCP_NODELAY before SetNoDelay: Go's default
		}
		res := map[bool]stat{}
		var obs OptNoDelayObs
		for _, nd := range []bool{false, true} {
			c, err := net.DialTimeout("tcp", e.Addr(), 5*time.Second)
			if err != nil {
				return err
			}
			tc := c.(*net.TCPConn)
			def, err1 := sockInt(tc, soNoDelay)
			err2 := tc.SetNoDelay(nd)
			opt, err3 := sockInt(tc, soNoDelay)
			if err := firstNonNil(err1, err2, err3); err != nil {
				c.Close()
				return err
			}
			if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
				c.Close()
				return err
			}
			req, resp := make([]byte, part), make([]byte, 8)
			var rtts []float64
			for range rounds {
				start := time.Now()
				_, err1 := c.Write(req)
				_, err2 := c.Write(req)
				_, err3 := io.ReadFull(c, resp)
				if err := firstNonNil(err1, err2, err3); err != nil {
					c.Close()
					return fmt.Errorf("NoDelay=%v: %w", nd, err)
				}
				rtts = append(rtts, scenario.Ms(time.Since(start)))
			}
			c.Close()
			slices.Sort(rtts)
			res[nd] = stat{P50: rtts[len(rtts)/2], P99: rtts[(len(rtts)*99+99)/100-1], Option: opt, DefaultOption: def}
			if nd {
				obs.NoDelayTrueRTTMS = rtts
			} else {
				obs.NoDelayFalseRTTMS = rtts
			}
		}
		off, on := res[false], res[true]
		obs.NoDelayFalseP50MS, obs.NoDelayFalseP99MS = off.P50, off.P99
		obs.NoDelayTrueP50MS, obs.NoDelayTrueP99MS = on.P50, on.P99
		obs.GoDefaultTCPNoDelay, obs.Rounds = on.DefaultOption, rounds
		if err := e.Record(&obs); err != nil {
			return err
		}
		// The stall is one delayed-ACK timeout: TCP_DELACK_MIN (40 ms) when
		// the RTT is below it, fired by a jiffy timer; allow 5 ms early for
		// jiffy rounding and 40 ms late for a busy machine.
		e.Expect("Go dials with TCP_NODELAY set", on.DefaultOption == 1 && off.DefaultOption == 1, "TCP_NODELAY read back %d, %d", off.DefaultOption, on.DefaultOption)
		e.Expect("SetNoDelay(false) clears TCP_NODELAY", off.Option == 0, "TCP_NODELAY=%d", off.Option)
		e.Expect("NoDelay=false: p50 sits at the 40 ms delayed ACK (35–80 ms)", off.P50 >= 35 && off.P50 <= 80, "p50 %.1f ms", off.P50)
		e.Expect("NoDelay=true: p50 far below the delayed ACK (< 20 ms)", on.P50 < 20, "p50 %.1f ms", on.P50)
		e.Expect("the difference is about one delayed ACK (> 30 ms)", off.P50-on.P50 > 30, "%.1f − %.1f ms", off.P50, on.P50)
		e.Headline("%d round trips, two %d-byte Writes each: NoDelay=false p50 %.1f / p99 %.1f ms; NoDelay=true p50 %.2f / p99 %.2f ms",
			rounds, part, off.P50, off.P99, on.P50, on.P99)
		return nil
	},
	Article: "the article only listed SetNoDelay (default on); the lab measures what turning it off costs",
}

func firstNonNil(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// OptNoDelayObs is what opt-nodelay observed: round trips of two small
// Writes and a reply, per NoDelay setting.
type OptNoDelayObs struct {
	NoDelayFalseRTTMS   []float64 `json:"nodelay_false_rtt_ms"` // sorted
	NoDelayTrueRTTMS    []float64 `json:"nodelay_true_rtt_ms"`
	NoDelayFalseP50MS   float64   `json:"nodelay_false_p50_ms"`
	NoDelayFalseP99MS   float64   `json:"nodelay_false_p99_ms"`
	NoDelayTrueP50MS    float64   `json:"nodelay_true_p50_ms"`
	NoDelayTrueP99MS    float64   `json:"nodelay_true_p99_ms"`
	GoDefaultTCPNoDelay int       `json:"go_default_tcp_nodelay"` // TCP_NODELAY of a fresh dial
	Rounds              int       `json:"rounds"`
}
