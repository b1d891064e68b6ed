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

// The §6 scenarios measure milliseconds of added RTT, so they do not run
// in parallel with the other container tests (Go runs the sequential
// top-level tests before the parallel ones).

// latency-dial: connect time follows the added RTT (never below it, at most
// 2 ms above: the target), the kernel's RTT too (+3 ms), and a
// DialTimeout of half the RTT times out at its deadline while the same dial
// without one connects after one RTT.
func TestLatencyDial(t *testing.T) {
	t.Parallel()
	for _, rtt := range []time.Duration{0, 10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond} {
		t.Run("rtt="+rtt.String(), func(t *testing.T) {
			t.Parallel()
			r := run(t, "latency-dial", scenario.Knobs{"impair.rtt": rtt.String()})
			o := obs[scenarios.LatencyDialObs](t, r)
			assert.True(t, scenario.OnTime(millis(o.ConnectMSP50), rtt, 0, 2*time.Millisecond), "connect p50 %.2f ms at +%v", o.ConnectMSP50, rtt)
			assert.GreaterOrEqual(t, millis(o.TcpiRTTMS), rtt, "tcpi_rtt never below the RTT")
			assert.LessOrEqual(t, millis(o.TcpiRTTMS), rtt+3*time.Millisecond, "tcpi_rtt within +3 ms")
			assert.Len(t, o.ConnectMS, 20)
			if rtt == 0 {
				assert.Equal(t, "none", r.Mechanism)
				assert.Nil(t, r.Network, "no impair.* knob in force")
				return
			}
			assert.Equal(t, "delayline", r.Mechanism, "this kernel has no sch_netem")
			require.NotNil(t, r.Network)
			assert.Equal(t, float64(rtt.Milliseconds()), r.Network.RTTMS)
			assert.True(t, o.ShortDialError.Timeout, "short DialTimeout: %+v", o.ShortDialError)
			assert.Contains(t, []string{"ErrDeadlineExceeded", "context.DeadlineExceeded"}, o.ShortDialError.Kind)
			assert.True(t, scenario.OnTime(millis(o.ShortDialMS), rtt/2, 1.0/8, 5*time.Millisecond), "returned after %.2f ms, deadline %v", o.ShortDialMS, rtt/2)
			assert.Equal(t, "none", o.NoDeadlineError.Kind, "the same dial without a deadline connects")
			assert.GreaterOrEqual(t, millis(o.NoDeadlineDialMS), rtt)
		})
	}
}

// latency-bdp: with the receiver's buffer locked by SetReadBuffer, the
// transfer runs at window / RTT (±25 %), the window being the share of the
// granted SO_RCVBUF the kernel advertises; a bigger buffer is faster. The
// cases run side by side; the order is checked once all have run.
func TestLatencyBDP(t *testing.T) {
	t.Parallel()
	buffers := []int{16384, 65536, 262144}
	throughput := make([]float64, len(buffers))
	t.Cleanup(func() {
		for i := 1; i < len(buffers); i++ {
			if throughput[i-1] > 0 && throughput[i] > 0 {
				assert.Greater(t, throughput[i], throughput[i-1], "read_buffer=%d is faster than %d", buffers[i], buffers[i-1])
			}
		}
	})
	for i, b := range buffers {
		t.Run(fmt.Sprint("read_buffer=", b), func(t *testing.T) {
			t.Parallel()
			r := run(t, "latency-bdp", scenario.Knobs{"server.read_buffer": fmt.Sprint(b)})
			o := obs[scenarios.LatencyBDPObs](t, r)
			assert.Equal(t, 2*b, o.RcvBufGranted, "Linux doubles SetReadBuffer")
			assert.Greater(t, o.SndWnd, b/2, "the window is a large share of the buffer")
			assert.LessOrEqual(t, o.SndWnd, o.RcvBufGranted)
			assert.InDelta(t, 1, o.ThroughputMBps/o.WindowOverRTTMBps, 0.25, "throughput %.2f MB/s, window/RTT %.2f MB/s", o.ThroughputMBps, o.WindowOverRTTMBps)
			assert.GreaterOrEqual(t, millis(o.TcpiRTTMS), 50*time.Millisecond)
			throughput[i] = o.ThroughputMBps
		})
	}
}

// latency-nodelay: NoDelay=true costs one RTT per write-write-read request;
// NoDelay=false one more RTT, plus at most the delayed ACK (max(SRTT, 40 ms)).
func TestLatencyNoDelay(t *testing.T) {
	t.Parallel()
	rtt := 50 * time.Millisecond
	o := obs[scenarios.LatencyNoDelayObs](t, run(t, "latency-nodelay", nil))
	assert.True(t, scenario.OnTime(millis(o.NoDelayTrueP50MS), rtt, 0.1, 3*time.Millisecond), "NoDelay=true p50 %.2f ms", o.NoDelayTrueP50MS)
	assert.True(t, scenario.OnTime(millis(o.StallMS), rtt-time.Millisecond, 0, rtt+10*time.Millisecond), "Nagle's stall %.2f ms", o.StallMS)
	assert.Len(t, o.NoDelayFalseMS, o.Rounds)
	assert.Len(t, o.NoDelayTrueMS, o.Rounds)
}

// loss-retransmit: the median stays at the RTT whatever the loss; without
// loss nothing is retransmitted; with it, every stall is a recovery and
// none comes before SRTT + 200 ms (one segment in flight).
func TestLossRetransmit(t *testing.T) {
	t.Parallel()
	rtt := 20 * time.Millisecond
	for _, loss := range []string{"0", "0.01", "0.05"} {
		t.Run("loss="+loss, func(t *testing.T) {
			t.Parallel()
			r := run(t, "loss-retransmit", scenario.Knobs{"impair.loss": loss})
			o := obs[scenarios.LossRetransmitObs](t, r)
			require.NotNil(t, r.Network)
			assert.Equal(t, "delayline", r.Mechanism)
			assert.True(t, scenario.OnTime(millis(o.P50MS), rtt, 0.1, 3*time.Millisecond), "p50 %.2f ms", o.P50MS)
			retrans := o.Client.Retrans + o.Server.Retrans
			if loss == "0" {
				assert.Zero(t, retrans)
				assert.Zero(t, o.Stalled)
				return
			}
			assert.LessOrEqual(t, o.Stalled, retrans, "every stall is a retransmission")
			if loss == "0.05" {
				// 200 requests, 5 % of each direction's packets: P(no loss) < 1e-8.
				assert.Positive(t, o.Stalled)
				assert.Positive(t, o.Client.TcpExt["TCPLossProbes"]+o.Server.TcpExt["TCPLossProbes"])
			}
			if o.Stalled > 0 {
				srtt := min(o.Client.SRTTMS, o.Server.SRTTMS)
				assert.GreaterOrEqual(t, o.MinStallMS, srtt+196, "no recovery before SRTT + 200 ms")
				assert.GreaterOrEqual(t, o.MaxMS, 20+srtt+196)
			}
		})
	}
}
