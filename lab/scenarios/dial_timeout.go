package scenarios

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/scenario"
)

// dialTimeout: the impairment agent drops every SYN to the server, so only
// DialTimeout's deadline ends the dial: "i/o timeout", Timeout()==true.
// This replaces the article's dial to a public address.
//
// Go notices a dial deadline twice: the poller's write deadline on the
// connecting socket (os.ErrDeadlineExceeded) and the dial context's timer
// (net's errTimeout, which matches context.DeadlineExceeded). Whichever wins
// decides the sentinel, so the scenario dials several times and counts both.
var dialTimeout = &scenario.Scenario{
	ID:      "dial-timeout",
	Section: "2 Connection set-up",
	Title:   "every SYN is dropped: DialTimeout returns at its deadline",
	Sidecar: true,
	Timeout: 90 * time.Second,
	Knobs: []scenario.Knob{
		{Name: "client.dial_timeout", Default: "2s", Kind: scenario.Duration, Min: 0.1, Max: 30},
		{Name: "client.dials", Default: "3", Kind: scenario.Int, Min: 1, Max: 20},
	},
	Obs:    scenario.ObsOf[DialTimeoutObs](),
	Server: acceptAll,
	Client: func(e *scenario.Env) error {
		t := e.Knobs.Duration("client.dial_timeout")
		n := e.Knobs.Int("client.dials")
		if err := e.Impair(impair.Spec{DropSYN: 1}); err != nil {
			return err
		}
		// The dials run side by side: each is its own socket and its own
		// deadline, so one T of waiting shows all n.
		tookMS := make([]float64, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				start := time.Now()
				c, err := net.DialTimeout("tcp", e.Addr(), t)
				tookMS[i], errs[i] = scenario.Ms(time.Since(start)), err
				if c != nil {
					c.Close()
				}
			})
		}
		wg.Wait()
		last := errs[n-1]
		timeouts, onTime, osSentinel, ctxSentinel := 0, 0, 0, 0
		for i, err := range errs {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && strings.HasSuffix(err.Error(), "i/o timeout") {
				timeouts++
			}
			// Go arms the deadline inside the call, after start: never
			// early; late by timer and scheduling only.
			if scenario.OnTime(time.Duration(tookMS[i]*float64(time.Millisecond)), t, 1.0/20, 50*time.Millisecond) {
				onTime++
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				osSentinel++
			}
			if errors.Is(err, context.DeadlineExceeded) {
				ctxSentinel++
			}
		}
		dropped, err := e.Dropped()
		if err != nil {
			return err
		}
		if err := e.ClearImpair(); err != nil {
			return err
		}
		c2, after := net.DialTimeout("tcp", e.Addr(), t)
		if c2 != nil {
			c2.Close()
		}
		if err := e.Record(&DialTimeoutObs{ReturnedAfterMS: tookMS, Error: scenario.Classify(last), IsOSDeadline: osSentinel,
			IsContextDeadline: ctxSentinel, SynsDropped: dropped, DialAfterClear: scenario.Classify(after)}); err != nil {
			return err
		}
		e.Expect("Timeout() == true, \"i/o timeout\"", timeouts == n, "%d of %d; last error %v", timeouts, n, last)
		e.Expect("errors.Is(err, os.ErrDeadlineExceeded) or context.DeadlineExceeded", osSentinel+ctxSentinel >= n,
			"os.ErrDeadlineExceeded %d, context.DeadlineExceeded %d of %d", osSentinel, ctxSentinel, n)
		e.Expect("returns at T, not before, ≤ 5 % + 50 ms late", onTime == n, "%d of %d on time: %v ms, T=%v", onTime, n, tookMS, t)
		e.Expect("the impairment dropped the SYNs", dropped >= uint64(n), "%d dropped", dropped)
		e.Expect("dial succeeds once the impairment is removed", after == nil, "dial after clear: %v", after)
		e.Headline("DialTimeout(%v) ×%d → \"i/o timeout\" after %v ms (os sentinel %d, context sentinel %d)", t, n, tookMS, osSentinel, ctxSentinel)
		return nil
	},
	Article: "the article dialed a public address to get a timeout; the lab drops SYNs inside the lab instead",
}

// DialTimeoutObs is what dial-timeout observed.
type DialTimeoutObs struct {
	ReturnedAfterMS []float64        `json:"returned_after_ms"` // each dial's duration
	Error           scenario.ErrInfo `json:"error"`             // the last dial's
	// IsOSDeadline and IsContextDeadline count the dials whose error
	// matched os.ErrDeadlineExceeded and context.DeadlineExceeded.
	IsOSDeadline      int              `json:"is_os_ErrDeadlineExceeded"`
	IsContextDeadline int              `json:"is_context_DeadlineExceeded"`
	SynsDropped       uint64           `json:"syns_dropped"`
	DialAfterClear    scenario.ErrInfo `json:"dial_after_clear"` // a dial once the impairment is removed
}
