package tests

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/scenario"
)

// §2 Connection set-up.

func TestDialRefused(t *testing.T) {
	t.Parallel()
	r := run(t, "dial-refused", nil)
	assert.Equal(t, "ECONNREFUSED", r.Err("error").Kind)
	assert.Less(t, r.Num("slowest_ms"), 100.0)
}

func TestBacklogFull(t *testing.T) {
	t.Parallel()
	for _, s := range []int{16, 128} {
		t.Run(fmt.Sprintf("somaxconn=%d", s), func(t *testing.T) {
			r := run(t, "backlog-full", scenario.Knobs{"server.somaxconn": fmt.Sprint(s)})
			assert.Equal(t, float64(s+1), r.Num("succeeded_at_once"), "Linux keeps backlog+1")
			assert.Equal(t, float64(s+1), r.Num("accept_queue"))
			assert.Equal(t, float64(s), r.Num("listener_backlog"))
			assert.Positive(t, r.Num("listen_overflows"))
			next := r.Err("next_dial")
			assert.True(t, next.Timeout, "the next dial blocks until its deadline: %+v", next)
		})
	}
}

func TestBacklogSlowAccept(t *testing.T) {
	t.Parallel()
	r := run(t, "backlog-slow-accept", nil)
	var ms []float64
	r.Decode("blocked_dial_ms", &ms)
	require.Len(t, ms, 3)
	for _, d := range ms {
		sends, _ := scenario.SynSchedule(6, 0)
		slot, ok := scenario.OnSynSlot(millis(d), sends)
		assert.Truef(t, ok, "a blocked dial completes at a SYN retransmission (0,1,3,7,15 s), took %.0f ms", d)
		assert.GreaterOrEqual(t, slot, 3*time.Second, "the first retransmission after the first accept (2 s) is at 3 s")
	}
}

func TestBacklogSynTimeout(t *testing.T) {
	t.Parallel()
	for _, retries := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("tcp_syn_retries=%d", retries), func(t *testing.T) {
			r := run(t, "backlog-syn-timeout", scenario.Knobs{"client.tcp_syn_retries": fmt.Sprint(retries)})
			assert.Equal(t, "ETIMEDOUT", r.Err("error").Kind)
			assert.Contains(t, r.Err("error").Text, "connection timed out")
			if lab.Linear {
				want := scenario.SynGiveUp(retries) // 2^(R+1)−1 s
				got := millis(r.Num("failed_after_ms"))
				assert.InDelta(t, want.Seconds(), got.Seconds(), want.Seconds()/10, "2^(R+1)−1 s ±10 %%")
			}
		})
	}
}

func TestDialTimeout(t *testing.T) {
	t.Parallel()
	r := run(t, "dial-timeout", scenario.Knobs{"client.dial_timeout": "2s"})
	e := r.Err("error")
	assert.True(t, e.Timeout)
	assert.Contains(t, e.Text, "i/o timeout")
	// Which sentinel matches depends on which of Go's two deadline
	// mechanisms fired first; every dial matches one of them.
	assert.Contains(t, []string{"ErrDeadlineExceeded", "context.DeadlineExceeded"}, e.Kind)
	assert.GreaterOrEqual(t, r.Num("is_os_ErrDeadlineExceeded")+r.Num("is_context_DeadlineExceeded"), 3.0)
	var took []float64
	r.Decode("returned_after_ms", &took)
	for _, ms := range took {
		assert.InDelta(t, 2.0, ms/1000, 0.1, "T ±5 %%")
	}
	assert.Equal(t, "nftables", r.Mechanism)
}

func TestDialLossy(t *testing.T) {
	t.Parallel()
	r := run(t, "dial-lossy", scenario.Knobs{"impair.syn_loss": "0.5"})
	var hist map[string]int
	r.Decode("histogram", &hist)
	total := 0
	for _, n := range hist {
		total += n
	}
	assert.Equal(t, 80, total)
	assert.Greater(t, hist["0s"], hist["3s"], "the first slot holds about half, the third about an eighth")
	assert.Equal(t, r.Num("syns_dropped"), r.Num("syns_dropped_inferred"))
}
