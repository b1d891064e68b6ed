package scenarios

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/tcpmodel"
)

// backlogSynTimeout: the accept queue is full and the server never accepts;
// a Dial with no timeout gives up when the kernel has sent R SYN
// retransmissions: 1+2+…+2^R = 2^(R+1)−1 s with exponential back-off.
var backlogSynTimeout = &scenario.Scenario{
	ID:      "backlog-syn-timeout",
	Section: "2 Connection set-up",
	Title:   "Dial without timeout against a full backlog: the kernel's SYN retries decide",
	Timeout: 90 * time.Second,
	Weight:  synGiveUp,
	Knobs: []scenario.Knob{
		{Name: "server.somaxconn", Default: "1", Kind: scenario.Int, Min: 1, Max: 256},
		{Name: "client.tcp_syn_retries", Default: "2", Kind: scenario.Int, Min: 1, Max: 5, Help: "SYN retransmissions before connect gives up"},
	},
	Cases:  []scenario.Knobs{{"client.tcp_syn_retries": "1"}, {"client.tcp_syn_retries": "2"}, {"client.tcp_syn_retries": "3"}},
	Obs:    scenario.ObsOf[BacklogSynTimeoutObs](),
	Server: neverAccept,
	Client: func(e *scenario.Env) error {
		s := e.Knobs.Int("server.somaxconn")
		conns, _, _ := fill(e, s+1, 500*time.Millisecond)
		defer closeAll(conns)
		if len(conns) != s+1 {
			return fmt.Errorf("could not fill the accept queue: %d of %d", len(conns), s+1)
		}
		_, giveUp, r, linear := tcpmodel.LocalSynSchedule()
		_, present := tcpmodel.LocalLinearTimeouts()
		absent := !present
		start := time.Now()
		var d net.Dialer // no Timeout: only the kernel ends this dial (the context is a safety net)
		c, err := d.DialContext(e.Ctx, "tcp", e.Addr())
		took := time.Since(start)
		if c != nil {
			c.Close()
		}
		return e.Record(&BacklogSynTimeoutObs{TCPSynRetries: r, TCPSynLinearTimeouts: linear, TCPSynLinearTimeoutsAbsent: absent,
			FailedAfterMS: scenario.Ms(took), ExpectedMS: scenario.Ms(giveUp), Error: scenario.Classify(err)})
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *BacklogSynTimeoutObs, v *scenario.Verdict) {
		sends, giveUp := synSysctls(k, v, o.TCPSynRetries, o.TCPSynLinearTimeouts)
		v.Expect("fails with ETIMEDOUT (\"connection timed out\")", o.Error.Kind == "ETIMEDOUT" && strings.Contains(o.Error.Text, "connection timed out"),
			"error %+v", o.Error)
		// The kernel gives up when the retransmission timer that would
		// send SYN R+2 fires: the schedule's give-up, a slot like the
		// others (never early but for one jiffy, late by at most 1/8 of
		// it + 250 ms, less than the slot before it is away).
		took := fromMS(o.FailedAfterMS)
		v.Expect(fmt.Sprintf("fails at the SYN schedule's give-up %v (2^(R+1)−1 s with linear timeouts off), −10 ms … ×1.125 + 250 ms", giveUp),
			synSlotOf(took, append(sends, giveUp)) == len(sends),
			"took %v, want %v (tcp_syn_retries=%d, tcp_syn_linear_timeouts=%d, SYNs at %v)", took.Round(time.Millisecond), giveUp,
			o.TCPSynRetries, o.TCPSynLinearTimeouts, sends)
		v.Headline("tcp_syn_retries=%d → %s after %.2f s", o.TCPSynRetries, o.Error.Kind, took.Seconds())
	}),
	Article: "macOS 2015: about 77 s; Ubuntu 14.04: over 10 minutes — both the host's SYN retry settings; the lab pins tcp_syn_retries",
}

// BacklogSynTimeoutObs is what backlog-syn-timeout observed.
type BacklogSynTimeoutObs struct {
	TCPSynRetries        int `json:"tcp_syn_retries"`         // the client's sysctl in force
	TCPSynLinearTimeouts int `json:"tcp_syn_linear_timeouts"` // 0 where the kernel lacks it
	// TCPSynLinearTimeoutsAbsent is true on a kernel without the sysctl
	// (< 6.5): the 0 above is then the kernel's schedule, not a pin.
	TCPSynLinearTimeoutsAbsent bool    `json:"tcp_syn_linear_timeouts_absent,omitempty"`
	FailedAfterMS              float64 `json:"failed_after_ms" tcplab:"headline"`
	// ExpectedMS is the SYN schedule's give-up, for the report and the
	// kernel runs: the verdicts compute it from the sysctls above.
	ExpectedMS float64          `json:"expected_ms" tcplab:"info"`
	Error      scenario.ErrInfo `json:"error"`
}
