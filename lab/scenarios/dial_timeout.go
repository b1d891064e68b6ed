package scenarios

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/tcpmodel"
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
	Weight: func(k scenario.Knobs) time.Duration {
		return k.Duration("client.dial_timeout") + startup // the dials run side by side
	},
	// Quiet: a busy CPU skews its T ±5 % (seen 150 ms late on 2 s beside
	// five other runs).
	Load: scenario.Quiet,
	Knobs: []scenario.Knob{
		{Name: "client.dial_timeout", Default: "2s", Kind: scenario.Duration, Min: 0.1, Max: 30},
		{Name: "client.dials", Default: "3", Kind: scenario.Int, Min: 1, Max: 20},
	},
	Obs:    scenario.ObsOf[DialTimeoutObs](),
	Server: acceptAll,
	Client: func(e *scenario.Env) error {
		t := e.Knobs.Duration("client.dial_timeout")
		n := e.Knobs.Int("client.dials")
		_, _, retries, linear := tcpmodel.LocalSynSchedule()
		if err := e.Impair(impair.Spec{DropSYN: 1}); err != nil {
			return err
		}
		// The dials run side by side: each is its own socket and its own
		// deadline, so one T of waiting shows all n.
		o := DialTimeoutObs{TCPSynRetries: retries, TCPSynLinearTimeouts: linear,
			ReturnedAfterMS: make([]float64, n), Errors: make([]scenario.ErrInfo, n)}
		var osSentinel, ctxSentinel atomic.Int64
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				start := time.Now()
				c, err := net.DialTimeout("tcp", e.Addr(), t)
				o.ReturnedAfterMS[i], o.Errors[i] = scenario.Ms(time.Since(start)), scenario.Classify(err)
				if c != nil {
					c.Close()
				}
				if errors.Is(err, os.ErrDeadlineExceeded) {
					osSentinel.Add(1)
				}
				if errors.Is(err, context.DeadlineExceeded) {
					ctxSentinel.Add(1)
				}
			})
		}
		wg.Wait()
		o.IsOSDeadline, o.IsContextDeadline = int(osSentinel.Load()), int(ctxSentinel.Load())
		dropped, err := e.Dropped()
		if err != nil {
			return err
		}
		o.SynsDropped = dropped
		if err := e.ClearImpair(); err != nil {
			return err
		}
		c2, after := net.DialTimeout("tcp", e.Addr(), t)
		if c2 != nil {
			c2.Close()
		}
		o.DialAfterClear = scenario.Classify(after)
		return e.Record(&o)
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *DialTimeoutObs, v *scenario.Verdict) {
		t, n := k.Duration("client.dial_timeout"), k.Int("client.dials")
		sends, _ := synSysctls(k, v, o.TCPSynRetries, o.TCPSynLinearTimeouts)
		v.Expect("one outcome per dial", len(o.ReturnedAfterMS) == n && len(o.Errors) == n, "%d durations, %d errors, %d dials",
			len(o.ReturnedAfterMS), len(o.Errors), n)
		timeouts := 0
		for _, e := range o.Errors {
			if e.Timeout && strings.HasSuffix(e.Text, "i/o timeout") {
				timeouts++
			}
		}
		v.Expect("every dial fails with Timeout() == true, \"i/o timeout\"", timeouts == n, "%d of %d: %+v", timeouts, n, o.Errors)
		// Go notices the deadline by one of two timers; each error
		// matches the sentinel of the one that fired first, and only it.
		v.Expect("each error matches exactly one of os.ErrDeadlineExceeded, context.DeadlineExceeded", o.IsOSDeadline+o.IsContextDeadline == n,
			"os.ErrDeadlineExceeded %d, context.DeadlineExceeded %d of %d", o.IsOSDeadline, o.IsContextDeadline, n)
		took := make([]time.Duration, len(o.ReturnedAfterMS))
		for i, m := range o.ReturnedAfterMS {
			took[i] = fromMS(m)
		}
		// Go arms the deadline inside the call, after start: never early;
		// late by the timer and scheduling only (the run is Quiet).
		v.TimelyAll("DialTimeout returns at T, not before, ≤ 5 % + 50 ms late", took, t, 1.0/20, 50*time.Millisecond)
		// Every SYN a dial sent before its deadline was dropped: the
		// slots before T on the client's schedule (T=2 s: 0 and 1 s),
		// counted as OnSynSlot times them.
		lo, hi := 0, 0
		for _, d := range took {
			l, h := synsBefore(d, sends)
			lo, hi = lo+l, hi+h
		}
		v.Between("nf_tables dropped every SYN the dials sent before their deadline", float64(o.SynsDropped), float64(lo), float64(hi), "")
		v.Expect("a dial succeeds once the impairment is removed", o.DialAfterClear.Kind == "none", "dial after clear: %+v", o.DialAfterClear)
		v.Headline("DialTimeout(%v) ×%d → \"i/o timeout\" after %v ms (os sentinel %d, context sentinel %d)", t, n, o.ReturnedAfterMS,
			o.IsOSDeadline, o.IsContextDeadline)
	}),
	Article: "the article dialed a public address to get a timeout; the lab drops SYNs inside the lab instead",
}

// DialTimeoutObs is what dial-timeout observed.
type DialTimeoutObs struct {
	// TCPSynRetries and TCPSynLinearTimeouts are the client's sysctls in
	// force: they say which SYNs a dial sent before its deadline. Linear
	// timeouts change the schedule only from its third SYN (2 s), which
	// falls at T itself and so counts as "may have been sent" either way:
	// the drop count cannot tell 0 from 1, so it is informational here.
	TCPSynRetries        int                `json:"tcp_syn_retries"`
	TCPSynLinearTimeouts int                `json:"tcp_syn_linear_timeouts" tcplab:"info"`
	ReturnedAfterMS      []float64          `json:"returned_after_ms" tcplab:"headline"` // each dial's duration
	Errors               []scenario.ErrInfo `json:"errors"`                              // each dial's
	// IsOSDeadline and IsContextDeadline count the dials whose error
	// matched os.ErrDeadlineExceeded and context.DeadlineExceeded.
	IsOSDeadline      int              `json:"is_os_ErrDeadlineExceeded" tcplab:"exact"`
	IsContextDeadline int              `json:"is_context_DeadlineExceeded" tcplab:"exact"`
	SynsDropped       uint64           `json:"syns_dropped" tcplab:"exact"`
	DialAfterClear    scenario.ErrInfo `json:"dial_after_clear"` // a dial once the impairment is removed
}
