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

// §4 Socket options.

// opt-nodelay is Quiet (a 40 ms timer a busy CPU skews): the harness
// paces the start-ups beside it.
func TestOptNoDelay(t *testing.T) {
	t.Parallel()
	o := obs[scenarios.OptNoDelayObs](t, run(t, "opt-nodelay", nil))
	off, on := o.NoDelayFalseP50MS, o.NoDelayTrueP50MS
	// Linux's delayed-ACK timer is TCP_DELACK_MIN = 40 ms while the RTT is
	// below it: Nagle holds the second Write for one such timeout. It is
	// armed in jiffies, so it fires up to one jiffy (4 ms at this machine's
	// CONFIG_HZ=250) before 40 ms of real time, never earlier; late by the
	// timer wheel (1/8) and scheduling (10 ms).
	assert.True(t, scenario.OnTime(millis(off), 36*time.Millisecond, 1.0/8, 10*time.Millisecond),
		"NoDelay=false p50 %.1f ms: one 40 ms delayed ACK", off)
	assert.Less(t, on, 20.0, "NoDelay=true never waits for the ACK")
	assert.Greater(t, off-on, 30.0)
	assert.Equal(t, 50, o.Rounds)
	assert.Len(t, o.NoDelayFalseRTTMS, o.Rounds)
	assert.Len(t, o.NoDelayTrueRTTMS, o.Rounds)
	assert.Equal(t, 1, o.GoDefaultTCPNoDelay, "Go sets TCP_NODELAY by default")
}

func TestOptLinger(t *testing.T) {
	t.Parallel()
	o := obs[scenarios.OptLingerObs](t, run(t, "opt-linger", nil))
	assert.Equal(t, "ECONNRESET", o.Linger0Read.Kind)
	assert.Contains(t, o.Linger0Read.Text, "connection reset by peer")
	assert.Equal(t, "EOF", o.DefaultRead.Kind)
	assert.Equal(t, 1, o.ServerStates["TIME_WAIT"], "only the default close leaves TIME_WAIT")
}

func TestOptKeepAlive(t *testing.T) {
	t.Parallel()
	r := run(t, "opt-keepalive", nil)
	o := obs[scenarios.OptKeepAliveObs](t, r)
	e := o.ReadError
	assert.Equal(t, "ETIMEDOUT", e.Kind)
	assert.Contains(t, e.Text, "connection timed out")
	want := 1*time.Second + 3*1*time.Second // idle + interval×count
	got := millis(o.ReadFailedAfterMS)
	assert.True(t, scenario.OnTime(got, want, 1.0/8, 250*time.Millisecond), "Read failed after %v, want %v", got, want)
	assert.Equal(t, "nftables", r.Mechanism)
	// Go ≥ 1.23: keep-alive on, 15 s idle, 15 s interval, 9 probes, on
	// dialed and accepted conns alike.
	for _, ka := range [][4]any{
		{o.GoDefaultDialed.Enabled, o.GoDefaultDialed.IdleS, o.GoDefaultDialed.IntervalS, o.GoDefaultDialed.Count},
		{o.GoDefaultAccepted.Enabled, o.GoDefaultAccepted.IdleS, o.GoDefaultAccepted.IntervalS, o.GoDefaultAccepted.Count},
	} {
		assert.Equal(t, [4]any{true, 15, 15, 9}, ka)
	}
}

func TestOptBuffers(t *testing.T) {
	t.Parallel()
	o := obs[scenarios.OptBuffersObs](t, run(t, "opt-buffers", nil))
	rmax, wmax, rows := o.RmemMax, o.WmemMax, o.Buffers
	assert.Len(t, rows, 4)
	for _, row := range rows {
		assert.Equal(t, 2*min(row.Requested, rmax), row.RcvBuf, "requested %d", row.Requested)
		assert.Equal(t, 2*min(row.Requested, wmax), row.SndBuf, "requested %d", row.Requested)
	}
	blocked := o.WriteBlock
	require.Len(t, blocked, 3)
	for i := 1; i < len(blocked); i++ {
		assert.Greater(t, blocked[i].WrittenBlock, blocked[i-1].WrittenBlock, "bytes written before Write blocks rise with SO_SNDBUF")
	}
}

func TestOptReuseAddr(t *testing.T) {
	t.Parallel()
	for _, s := range []int{128, 512} {
		t.Run(fmt.Sprintf("somaxconn=%d", s), func(t *testing.T) {
			t.Parallel()
			o := obs[scenarios.OptReuseAddrObs](t, run(t, "opt-reuseaddr", scenario.Knobs{"server.somaxconn": fmt.Sprint(s)}))
			assert.GreaterOrEqual(t, o.TimeWaitBeforeRestart, 5)
			assert.Equal(t, "", o.ListenError)
			assert.Contains(t, o.ListenWithoutReuseAddr, "address already in use")
			assert.Equal(t, 1, o.ListenerReuseAddr)
			assert.Equal(t, int64(s), o.ListenerBacklog, "Go's backlog is the container's somaxconn")
			assert.Equal(t, "none", o.DialAfterRestart.Kind)
		})
	}
}
