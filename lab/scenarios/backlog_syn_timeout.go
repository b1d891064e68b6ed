package scenarios

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// backlogSynTimeout: the accept queue is full and the server never accepts;
// a Dial with no timeout gives up when the kernel has sent R SYN
// retransmissions: 1+2+…+2^R = 2^(R+1)−1 s with exponential back-off.
var backlogSynTimeout = &scenario.Scenario{
	ID:      "backlog-syn-timeout",
	Section: "2 Connection set-up",
	Title:   "Dial without timeout against a full backlog: the kernel's SYN retries decide",
	Timeout: 90 * time.Second,
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
		_, giveUp, r, linear := scenario.LocalSynSchedule()
		_, present := scenario.LocalLinearTimeouts()
		absent := !present
		start := time.Now()
		var d net.Dialer // no Timeout: only the kernel ends this dial (the context is a safety net)
		c, err := d.DialContext(e.Ctx, "tcp", e.Addr())
		took := time.Since(start)
		if c != nil {
			c.Close()
		}
		if err := e.Record(&BacklogSynTimeoutObs{TCPSynRetries: r, TCPSynLinearTimeouts: linear, TCPSynLinearTimeoutsAbsent: absent,
			FailedAfterMS: scenario.Ms(took), ExpectedMS: scenario.Ms(giveUp), Error: scenario.Classify(err)}); err != nil {
			return err
		}
		e.Expect("fails with ETIMEDOUT", errors.Is(err, syscall.ETIMEDOUT), "error %v", err)
		// The kernel gives up when the time since the first SYN (sent after
		// start) reaches the limit, at a timer firing: never before it, late
		// by the timer wheel (≤ 1/8) and scheduling.
		e.Expect("fails at the SYN schedule's give-up (2^(R+1)−1 s with linear timeouts off), not before, ≤ 1/8 + 250 ms late",
			scenario.OnTime(took, giveUp, 1.0/8, 250*time.Millisecond),
			"took %v, want %v (tcp_syn_retries=%d, tcp_syn_linear_timeouts=%d)", took.Round(time.Millisecond), giveUp, r, linear)
		e.Headline("tcp_syn_retries=%d → %s after %.2f s", r, scenario.Classify(err).Kind, took.Seconds())
		return nil
	},
	Article: "macOS 2015: about 77 s; Ubuntu 14.04: over 10 minutes — both the host's SYN retry settings; the lab pins tcp_syn_retries",
}

// BacklogSynTimeoutObs is what backlog-syn-timeout observed.
type BacklogSynTimeoutObs struct {
	TCPSynRetries        int `json:"tcp_syn_retries"`         // the client's sysctl in force
	TCPSynLinearTimeouts int `json:"tcp_syn_linear_timeouts"` // 0 where the kernel lacks it
	// TCPSynLinearTimeoutsAbsent is true on a kernel without the sysctl
	// (< 6.5): the 0 above is then the kernel's schedule, not a pin.
	TCPSynLinearTimeoutsAbsent bool             `json:"tcp_syn_linear_timeouts_absent,omitempty"`
	FailedAfterMS              float64          `json:"failed_after_ms"`
	ExpectedMS                 float64          `json:"expected_ms"` // the SYN schedule's give-up
	Error                      scenario.ErrInfo `json:"error"`
}
