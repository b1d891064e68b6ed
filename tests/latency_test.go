package tests

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// The §6 scenarios measure milliseconds of added RTT, so they do not run
// in parallel with the other container tests (Go runs the sequential
// top-level tests before the parallel ones).

// latency-dial: the verdicts pin connect time and tcpi_rtt to the added
// RTT, and the short DialTimeout to its deadline (run requires every
// check); the delay line is what holds the RTT on this kernel.
func TestLatencyDial(t *testing.T) {
	t.Parallel()
	for _, rtt := range []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond} {
		t.Run("rtt="+rtt.String(), func(t *testing.T) {
			t.Parallel()
			r := run(t, "latency-dial", scenario.Knobs{"impair.rtt": rtt.String()})
			assert.Equal(t, "delayline", r.Mechanism, "this kernel has no sch_netem")
		})
	}
}

// latency-bdp: the verdicts pin each run's throughput to window / RTT;
// across runs, a bigger buffer is faster. The cases run side by side; the
// order is checked once all have run.
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
			throughput[i] = obs[scenarios.LatencyBDPObs](t, run(t, "latency-bdp", scenario.Knobs{"server.read_buffer": fmt.Sprint(b)})).ThroughputMBps
		})
	}
}

// latency-nodelay: the verdicts pin NoDelay=true to one RTT and Nagle's
// stall to one RTT plus the 40 ms delayed ACK.
func TestLatencyNoDelay(t *testing.T) {
	t.Parallel()
	run(t, "latency-nodelay", nil)
}

// loss-retransmit: the verdicts pin the median to the RTT, the stalled
// requests to the binomial count of the asked loss and each stall to a
// recovery timer, on the delay line.
func TestLossRetransmit(t *testing.T) {
	t.Parallel()
	for _, loss := range []string{"0", "0.01", "0.05"} {
		t.Run("loss="+loss, func(t *testing.T) {
			t.Parallel()
			r := run(t, "loss-retransmit", scenario.Knobs{"impair.loss": loss})
			assert.Equal(t, "delayline", r.Mechanism)
		})
	}
}
