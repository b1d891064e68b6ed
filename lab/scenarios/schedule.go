package scenarios

import (
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/tcpmodel"
)

// Each scenario declares, beside its definition, its Weight: its expected
// wall time, for `tcplab run --parallel` to start the longest first,
// measured one after another on 2 cores (`tcplab run`, its per-run times;
// remeasure them together) or derived from the timer the scenario waits
// on. And its Load: a scenario whose figures a busy CPU would skew is
// Quiet, one that also keeps the CPU busy itself is Alone, each saying why;
// every other run with the delay line in force is Quiet too
// (planner.LoadOf). The helpers below are what the weights share.

// startup is what a run costs besides its own timers: network, server,
// sidecar and client containers started and removed (2 cores, measured).
const startup = 2500 * time.Millisecond

// probed is what a run through an impaired network costs before its own
// timers: start-up, then the RTT probe made through the impairment.
const probed = startup + 3*time.Second

// fixed is a weight that does not depend on the knobs.
func fixed(d time.Duration) func(scenario.Knobs) time.Duration {
	return func(scenario.Knobs) time.Duration { return d }
}

// synGiveUp: the run lasts until the client's last SYN retransmission
// gives up, 2^(R+1)−1 s.
func synGiveUp(k scenario.Knobs) time.Duration {
	return tcpmodel.SynGiveUp(k.Int("client.tcp_syn_retries")) + startup
}
