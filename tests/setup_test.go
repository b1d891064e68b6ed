package tests

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// §2 Connection set-up. Each scenario's verdicts pin its figures (the SYN
// schedule, backlog+1, the binomial slot counts); run requires every
// check to hold.

func TestDialRefused(t *testing.T) {
	t.Parallel()
	run(t, "dial-refused", nil)
}

func TestBacklogFull(t *testing.T) {
	t.Parallel()
	for _, s := range []int{16, 128} {
		t.Run(fmt.Sprintf("somaxconn=%d", s), func(t *testing.T) {
			t.Parallel()
			run(t, "backlog-full", scenario.Knobs{"server.somaxconn": fmt.Sprint(s)})
		})
	}
}

func TestBacklogSlowAccept(t *testing.T) {
	t.Parallel()
	run(t, "backlog-slow-accept", nil)
}

// R = 1 and 2 show the 2^(R+1)−1 s rule at two points (3 and 7 s) side by
// side; R = 3 (15 s) is one more point of the same rule, which `tcplab
// run` and compose still run, and would make this the longest test.
func TestBacklogSynTimeout(t *testing.T) {
	t.Parallel()
	for _, retries := range []int{1, 2} {
		t.Run(fmt.Sprintf("tcp_syn_retries=%d", retries), func(t *testing.T) {
			t.Parallel()
			r := run(t, "backlog-syn-timeout", scenario.Knobs{"client.tcp_syn_retries": fmt.Sprint(retries)})
			// The verdicts time the give-up on whatever schedule the
			// client ran with; that the harness pinned linear timeouts
			// off (where the kernel has them; older kernels have none) is
			// the harness's doing, which the test checks.
			assert.Zero(t, obs[scenarios.BacklogSynTimeoutObs](t, r).TCPSynLinearTimeouts)
		})
	}
}

// dial-timeout is Quiet (its T +5 % bound is a timer a busy CPU skews):
// the harness paces the start-ups beside it. The mechanism is the run's,
// not the observation's, so the test checks it.
func TestDialTimeout(t *testing.T) {
	t.Parallel()
	r := run(t, "dial-timeout", nil)
	assert.Equal(t, "nftables", r.Mechanism)
}

func TestDialLossy(t *testing.T) {
	t.Parallel()
	run(t, "dial-lossy", nil)
}
