package scenarios

import (
	"errors"
	"net"
	"os"
	"time"

	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/scenario"
)

// dialTimeout: the impairment agent drops every SYN to the server, so only
// DialTimeout's deadline ends the dial: "i/o timeout", Timeout()==true.
// This replaces the article's dial to a public address.
var dialTimeout = &scenario.Scenario{
	ID:      "dial-timeout",
	Section: "2 Connection set-up",
	Title:   "every SYN is dropped: DialTimeout returns at its deadline",
	Sidecar: true,
	Timeout: 60 * time.Second,
	Knobs: []scenario.Knob{
		{Name: "client.dial_timeout", Default: "2s", Kind: scenario.Duration, Min: 0.1, Max: 30},
	},
	Server: acceptAll,
	Client: func(e *scenario.Env) error {
		t := e.Knobs.Duration("client.dial_timeout")
		if err := e.Impair(impair.Spec{DropSYN: 1}); err != nil {
			return err
		}
		start := time.Now()
		c, err := net.DialTimeout("tcp", e.Addr(), t)
		took := time.Since(start)
		if c != nil {
			c.Close()
		}
		dropped, derr := e.Dropped()
		if derr != nil {
			return derr
		}
		if err := e.ClearImpair(); err != nil {
			return err
		}
		c2, after := net.DialTimeout("tcp", e.Addr(), t)
		if c2 != nil {
			c2.Close()
		}
		info := scenario.Classify(err)
		e.Observe("returned_after_ms", scenario.Ms(took))
		e.Observe("error", info)
		e.Observe("syns_dropped", dropped)
		e.Observe("dial_after_clear", scenario.Classify(after))
		var ne net.Error
		e.Expect("Timeout() == true", errors.As(err, &ne) && ne.Timeout(), "error %v", err)
		e.Expect("errors.Is(err, os.ErrDeadlineExceeded)", errors.Is(err, os.ErrDeadlineExceeded), "error %v", err)
		e.Expect("returns at T ±5 %", scenario.Near(took, t, t/20), "took %v, T=%v", took.Round(time.Millisecond), t)
		e.Expect("the impairment dropped the SYNs", dropped >= 1, "%d dropped", dropped)
		e.Expect("dial succeeds once the impairment is removed", after == nil, "dial after clear: %v", after)
		e.Headline("DialTimeout(%v) → %q after %.3f s (%d SYNs dropped)", t, info.Text, took.Seconds(), dropped)
		return nil
	},
	Article: "the article dialed a public address to get a timeout; the lab drops SYNs inside the lab instead",
}
