package tests

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// §2 Connection set-up.

func TestDialRefused(t *testing.T) {
	t.Parallel()
	o := obs[scenarios.DialRefusedObs](t, run(t, "dial-refused", nil))
	assert.Equal(t, "ECONNREFUSED", o.Error.Kind)
	assert.Equal(t, 5, o.Refused)
	assert.Less(t, o.SlowestMS, 100.0)
}

func TestBacklogFull(t *testing.T) {
	t.Parallel()
	for _, s := range []int{16, 128} {
		t.Run(fmt.Sprintf("somaxconn=%d", s), func(t *testing.T) {
			t.Parallel()
			o := obs[scenarios.BacklogFullObs](t, run(t, "backlog-full", scenario.Knobs{"server.somaxconn": fmt.Sprint(s)}))
			assert.Equal(t, s+1, o.SucceededAtOnce, "Linux keeps backlog+1")
			assert.Equal(t, int64(s+1), o.AcceptQueue)
			if o.BacklogError == "" {
				assert.Equal(t, int64(s), o.ListenerBacklog)
			} else { // qemu-user refuses sock_diag; the result lists it as not measured
				assert.Equal(t, int64(-1), o.ListenerBacklog, "backlog unknown: %s", o.BacklogError)
			}
			assert.Positive(t, o.ListenOverflows)
			next := o.NextDial
			assert.True(t, next.Timeout, "the next dial blocks until its deadline: %+v", next)
		})
	}
}

func TestBacklogSlowAccept(t *testing.T) {
	t.Parallel()
	ms := obs[scenarios.BacklogSlowAcceptObs](t, run(t, "backlog-slow-accept", nil)).BlockedDialMS
	require.Len(t, ms, 3)
	for _, d := range ms {
		sends, _ := scenario.SynSchedule(6, 0)
		slot, ok := scenario.OnSynSlot(millis(d), sends)
		assert.Truef(t, ok, "a blocked dial completes at a SYN retransmission (0,1,3,7,15 s), took %.0f ms", d)
		assert.GreaterOrEqual(t, slot, 3*time.Second, "the first retransmission after the first accept (2 s) is at 3 s")
	}
}

// R = 1 and 2 show the 2^(R+1)−1 s rule at two points (3 and 7 s) side by
// side; R = 3 (15 s) is one more point of the same rule, which `tcplab
// run` and compose still run, and would make this the longest test.
func TestBacklogSynTimeout(t *testing.T) {
	t.Parallel()
	for _, retries := range []int{1, 2} {
		t.Run(fmt.Sprintf("tcp_syn_retries=%d", retries), func(t *testing.T) {
			t.Parallel()
			o := obs[scenarios.BacklogSynTimeoutObs](t, run(t, "backlog-syn-timeout", scenario.Knobs{"client.tcp_syn_retries": fmt.Sprint(retries)}))
			assert.Equal(t, "ETIMEDOUT", o.Error.Kind)
			assert.Contains(t, o.Error.Text, "connection timed out")
			assert.Equal(t, retries, o.TCPSynRetries)
			// The harness pins linear timeouts off where the kernel has
			// them; older kernels have none. Either way: 2^(R+1)−1 s.
			assert.Zero(t, o.TCPSynLinearTimeouts)
			_, want := scenario.SynSchedule(o.TCPSynRetries, o.TCPSynLinearTimeouts)
			assert.Equal(t, scenario.SynGiveUp(retries), want)
			got := millis(o.FailedAfterMS)
			assert.True(t, scenario.OnTime(got, want, 1.0/8, 250*time.Millisecond),
				"failed after %v, want %v … %v", got, want, scenario.LateBound(want, 1.0/8, 250*time.Millisecond))
		})
	}
}

// dial-timeout is Quiet (its T +5 % bound is a timer a busy CPU skews):
// the harness paces the start-ups beside it.
func TestDialTimeout(t *testing.T) {
	t.Parallel()
	r := run(t, "dial-timeout", scenario.Knobs{"client.dial_timeout": "2s"})
	o := obs[scenarios.DialTimeoutObs](t, r)
	e := o.Error
	assert.True(t, e.Timeout)
	assert.Contains(t, e.Text, "i/o timeout")
	// Which sentinel matches depends on which of Go's two deadline
	// mechanisms fired first; every dial matches one of them.
	assert.Contains(t, []string{"ErrDeadlineExceeded", "context.DeadlineExceeded"}, e.Kind)
	assert.Equal(t, 3, o.IsOSDeadline+o.IsContextDeadline, "each of the 3 dials matches exactly one sentinel")
	require.Len(t, o.ReturnedAfterMS, 3)
	for _, ms := range o.ReturnedAfterMS {
		// The deadline is armed inside DialTimeout: never early.
		assert.True(t, scenario.OnTime(millis(ms), 2*time.Second, 1.0/20, 50*time.Millisecond), "returned after %v ms, T=2 s", ms)
	}
	assert.Equal(t, "nftables", r.Mechanism)
}

// tcp_syn_retries=2: SYN slots 0, 1 and 3 s and a give-up at 7 s show the
// clustering as well as the default 3 (0, 1, 3, 7 s, 15 s) in half the time.
func TestDialLossy(t *testing.T) {
	t.Parallel()
	o := obs[scenarios.DialLossyObs](t, run(t, "dial-lossy", scenario.Knobs{"impair.syn_loss": "0.5", "client.tcp_syn_retries": "2"}))
	hist := o.Histogram
	total := 0
	for _, n := range hist {
		total += n
	}
	assert.Equal(t, 80, total)
	assert.Greater(t, hist["0s"], hist["3s"], "the first slot holds about half, the third about an eighth")
	assert.Equal(t, o.SynsDropped, uint64(o.SynsDroppedInferred))
}
