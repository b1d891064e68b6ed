package scenarios

import (
	"fmt"
	"io"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// optNoDelay: each request is two small Writes and the server answers only
// once it has both. With Nagle on (NoDelay false) the second part waits for
// the ACK of the first, and the server delays that ACK (it has nothing to
// send yet) until Linux's delayed-ACK timer fires: TCP_DELACK_MIN, 40 ms,
// plus up to a jiffy.
// Go's default, NoDelay true, sends the second part at once.
var optNoDelay = &scenario.Scenario{
	ID:      "opt-nodelay",
	Section: "4 Socket options",
	Title:   "request in two small Writes: Nagle + delayed ACK stall with NoDelay=false",
	Timeout: 60 * time.Second,
	Weight:  fixed(4900 * time.Millisecond),
	// Quiet: a busy CPU skews the Nagle stall it measures (a 40 ms
	// delayed-ACK timer).
	Load: scenario.Quiet,
	Knobs: []scenario.Knob{
		{Name: "client.rounds", Default: "50", Kind: scenario.Int, Min: 50, Max: 1000, Help: "round trips per NoDelay setting"},
		knobPart,
	},
	Obs:    scenario.ObsOf[OptNoDelayObs](),
	Server: answerTwoParts,
	Client: func(e *scenario.Env) error {
		rounds, part := e.Knobs.Int("client.rounds"), e.Knobs.Int("client.part")
		var obs OptNoDelayObs
		for _, nd := range []bool{false, true} {
			c, err := dialTCP(e)
			if err != nil {
				return err
			}
			def, err1 := sockInt(c, soNoDelay)
			err2 := c.SetNoDelay(nd)
			opt, err3 := sockInt(c, soNoDelay)
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
			obs.GoDefaultTCPNoDelay = append(obs.GoDefaultTCPNoDelay, def)
			if nd {
				obs.NoDelayTrueRTTMS, obs.NoDelayTrueOption = rtts, opt
				// The RTO this kernel computed from this conn's tiny RTT
				// names its jiffy (jiffyOf).
				info, err := tcpInfo(c)
				if err != nil {
					c.Close()
					return err
				}
				obs.TcpiRTOus, obs.TcpiRTTus = info.RTOus, info.RTTus
			} else {
				obs.NoDelayFalseRTTMS, obs.NoDelayFalseOption = rtts, opt
			}
			c.Close()
		}
		return e.Record(&obs)
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *OptNoDelayObs, v *scenario.Verdict) {
		rounds, part := k.Int("client.rounds"), k.Int("client.part")
		v.Expect("Go dials with TCP_NODELAY set", len(o.GoDefaultTCPNoDelay) == 2 && o.GoDefaultTCPNoDelay[0] == 1 && o.GoDefaultTCPNoDelay[1] == 1,
			"TCP_NODELAY of fresh dials %v", o.GoDefaultTCPNoDelay)
		v.Expect("SetNoDelay(false) clears TCP_NODELAY, SetNoDelay(true) sets it", o.NoDelayFalseOption == 0 && o.NoDelayTrueOption == 1,
			"TCP_NODELAY read back %d, %d", o.NoDelayFalseOption, o.NoDelayTrueOption)
		v.Expect("one round trip per round", len(o.NoDelayFalseRTTMS) == rounds && len(o.NoDelayTrueRTTMS) == rounds,
			"%d and %d round trips, %d rounds", len(o.NoDelayFalseRTTMS), len(o.NoDelayTrueRTTMS), rounds)
		// The delayed-ACK timer is TCP_DELACK_MIN = HZ/25 jiffies (40 ms)
		// while the RTT is below it, armed for jiffies + 10 (HZ=250) when
		// the first part arrives. The timer wheel rounds every expiry up
		// by one more tick so that no timer fires early (calc_index), and
		// the arming falls somewhere inside a jiffy: the ACK leaves
		// (40 ms, 40 ms + 1 jiffy] after the part arrived. The jiffy is
		// the kernel's own, read off tcpi_rto (jiffyOf).
		jiffy := jiffyOf(o.TcpiRTOus, o.TcpiRTTus)
		v.Expect("tcpi_rto is TCP_RTO_MIN + the RTT rounded up to a jiffy of a Linux HZ (100, 250, 300, 1000)", jiffy > 0,
			"tcpi_rto %d µs, tcpi_rtt %d µs: jiffy %v", o.TcpiRTOus, o.TcpiRTTus, jiffy)
		if len(o.NoDelayFalseRTTMS) < 3 || len(o.NoDelayTrueRTTMS) == 0 || jiffy == 0 {
			return
		}
		const delack = 40 * time.Millisecond
		off := o.NoDelayFalseRTTMS
		// The receiver starts in quick-ACK mode and leaves it once it has
		// replied within the ATO (pingpong): round 1's first part is
		// ACKed at once, so Nagle lets the second go; from round 2 on the
		// ACK waits for the timer (which, firing, leaves pingpong, and the
		// reply re-enters it: one reply does, net.ipv4.tcp_pingpong_thresh
		// being 1, its default since Linux 6.5; 5.1–6.4 needed 3, so
		// there some later rounds may be quick-ACKed too).
		v.Expect("NoDelay=false, round 1: the first part is ACKed at once (quick-ACK mode), no stall", fromMS(off[0]) < delack,
			"round 1 %.1f ms, the delayed ACK fires after %v", off[0], delack)
		later := sortedCopy(off[1:])
		v.Expect("NoDelay=false, rounds 2…: every round waits for the delayed ACK, none returns within 40 ms", fromMS(later[0]) >= delack,
			"fastest %.1f ms, want ≥ %v", later[0], delack)
		// Late by at most the jiffy of the round-up, plus 5 ms for the
		// softirq, the round trip and two wake-ups. From round 3 on the
		// client sends right after the previous timer's tick, so the
		// rounds lock to 40 ms + 1 jiffy: measured p50 44.0 ms at HZ=250
		// in 2 runs (rounds 2… 42.2–48.1 ms).
		p50 := later[len(later)/2]
		v.Timely("NoDelay=false, rounds 2…: p50 is one delayed ACK (TCP_DELACK_MIN, 40 ms, + 1 jiffy)", fromMS(p50), delack, 0, jiffy+5*time.Millisecond)
		// NoDelay=true never waits for an ACK: its rounds are bare round
		// trips, whose length is the bridge's and no timer's.
		on := sortedCopy(o.NoDelayTrueRTTMS)
		v.Expect("NoDelay=true: no round waits for the delayed ACK", fromMS(on[len(on)-1]) < delack,
			"slowest %.2f ms, the delayed ACK fires after %v", on[len(on)-1], delack)
		v.Headline("%d round trips, two %d-byte Writes each: NoDelay=false p50 %.1f ms (delayed ACK, 40 ms at a %v jiffy; round 1 %.1f ms, quick ACK); NoDelay=true p50 %.2f / max %.2f ms",
			rounds, part, p50, jiffy, off[0], on[len(on)/2], on[len(on)-1])
	}),
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
// Writes and a reply, in order, per NoDelay setting.
type OptNoDelayObs struct {
	NoDelayFalseRTTMS []float64 `json:"nodelay_false_rtt_ms" tcplab:"headline"`
	// NoDelayTrueRTTMS are bare round trips over the bridge: their length
	// is the machine's, which no mechanism fixes; the verdicts check only
	// that none waits for the delayed ACK.
	NoDelayTrueRTTMS    []float64 `json:"nodelay_true_rtt_ms" tcplab:"info"`
	NoDelayFalseOption  int       `json:"nodelay_false_tcp_nodelay" tcplab:"exact"` // TCP_NODELAY after SetNoDelay(false)
	NoDelayTrueOption   int       `json:"nodelay_true_tcp_nodelay" tcplab:"exact"`
	GoDefaultTCPNoDelay []int     `json:"go_default_tcp_nodelay" tcplab:"exact"` // TCP_NODELAY of each fresh dial
	// TcpiRTOus, TcpiRTTus: tcp_info of the NoDelay=true conn after its
	// rounds; the RTO names the kernel's jiffy (jiffyOf). The RTT only
	// places the rounding: any value below a jiffy gives the same RTO.
	TcpiRTOus int `json:"tcpi_rto_us"`
	TcpiRTTus int `json:"tcpi_rtt_us" tcplab:"info"`
}
