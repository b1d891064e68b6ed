package scenarios

import (
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// startup is what a run costs besides its own timers: network, server,
// sidecar and client containers started and removed (2 cores, measured).
const startup = 2500 * time.Millisecond

// weights are each scenario's expected wall time, for `tcplab run
// --parallel` to start the longest first; measured one after another on
// 2 cores (`tcplab run`, its per-run times), or derived from the timer
// the scenario waits on. Kept in one file so they are measured together.
var weights = map[string]func(k scenario.Knobs) time.Duration{
	"model-scale":         fixed(8 * time.Second),
	"dial-refused":        fixed(3 * time.Second),
	"backlog-full":        fixed(3 * time.Second),
	"backlog-slow-accept": fixed(5 * time.Second),
	"backlog-syn-timeout": synGiveUp,
	"dial-timeout": func(k scenario.Knobs) time.Duration {
		return k.Duration("client.dial_timeout") + startup // the dials run side by side
	},
	"dial-lossy":              synGiveUp,
	"read-no-data":            fixed(3700 * time.Millisecond),
	"read-partial":            fixed(2700 * time.Millisecond),
	"read-deadline-past":      fixed(2700 * time.Millisecond),
	"read-enough":             fixed(2100 * time.Millisecond),
	"read-close-with-data":    fixed(2300 * time.Millisecond),
	"read-close-no-data":      fixed(2200 * time.Millisecond),
	"read-timeout":            fixed(3400 * time.Millisecond),
	"write-success":           fixed(2700 * time.Millisecond),
	"write-block":             fixed(6500 * time.Millisecond),
	"write-partial-peer-dies": fixed(4400 * time.Millisecond),
	"write-timeout":           fixed(3600 * time.Millisecond),
	"concurrent-write":        fixed(3500 * time.Millisecond),
	"concurrent-write-split":  fixed(3900 * time.Millisecond),
	"concurrent-read":         fixed(2400 * time.Millisecond),
	"opt-nodelay":             fixed(4900 * time.Millisecond),
	"opt-linger":              fixed(3 * time.Second),
	"opt-keepalive":           fixed(6800 * time.Millisecond),
	"opt-buffers":             fixed(3 * time.Second),
	"opt-reuseaddr":           fixed(2600 * time.Millisecond),
	"close-self":              fixed(2 * time.Second),
	"close-peer":              fixed(2600 * time.Millisecond),
	"close-half":              fixed(2200 * time.Millisecond),
	// The host probe and the client each wait one hold (measured 11.5–13 s
	// with tcp_syn_retries 1).
	"proxy-backlog": func(k scenario.Knobs) time.Duration {
		return 2*proxyHold(scenario.SynGiveUp(k.Int("server.tcp_syn_retries"))) + startup
	},
	"proxy-refused": fixed(3 * time.Second),
	// The latency scenarios: start-up, the RTT probe, then their own timers.
	"latency-dial": func(k scenario.Knobs) time.Duration {
		return startup + 3*time.Second + time.Duration(k.Int("client.dials")+12)*k.Duration("impair.rtt")
	},
	"latency-bdp": func(k scenario.Knobs) time.Duration {
		return startup + 3*time.Second + k.Duration("client.warmup") + k.Duration("client.measure")
	},
	"latency-nodelay": func(k scenario.Knobs) time.Duration {
		return startup + 3*time.Second + time.Duration(k.Int("client.rounds"))*(3*k.Duration("impair.rtt")+40*time.Millisecond)
	},
	"loss-retransmit": func(k scenario.Knobs) time.Duration {
		return startup + 4*time.Second + time.Duration(k.Int("client.requests"))*k.Duration("impair.rtt")*6/5
	},
}

// loads: the scenarios whose figures a busy CPU would skew are Quiet: the
// Nagle stall (a 40 ms delayed-ACK timer), dial-timeout's T ±5 % (seen
// 150 ms late on 2 s beside five other runs), latency-nodelay's Nagle
// stall under RTT, latency-dial's +2 ms and
// loss-retransmit's stalls, which a starved delay line would fake (its
// late release looks like a stall, or fires a spurious loss probe).
// write-block's totals are Quiet too: how many bytes a pinned send buffer
// holds depends on the size of the kernel's segments (TSO's size goal
// follows the measured RTT), and one of five connections beside a busy
// CPU held 98,464 bytes where the others held 79,640 (a CI run).
// dial-lossy's slots are Quiet as well: beside twelve runs starting at
// once (a CI `tcplab run`) 40 of 80 dials landed in the 1 s slot, where
// p=0.5 puts 20.
// model-scale's echo percentiles and RSS per conn are skewed by a busy CPU
// and its 10,000 connections keep one busy: Alone. Every other run with
// the delay line in force is Quiet too (scenario.Impaired).
var loads = map[string]scenario.Load{"model-scale": scenario.Alone, "opt-nodelay": scenario.Quiet,
	"dial-timeout": scenario.Quiet, "latency-nodelay": scenario.Quiet, "latency-dial": scenario.Quiet,
	"loss-retransmit": scenario.Quiet, "write-block": scenario.Quiet, "dial-lossy": scenario.Quiet}

func fixed(d time.Duration) func(scenario.Knobs) time.Duration {
	return func(scenario.Knobs) time.Duration { return d }
}

// synGiveUp: the run lasts until the client's last SYN retransmission
// gives up, 2^(R+1)−1 s.
func synGiveUp(k scenario.Knobs) time.Duration {
	return scenario.SynGiveUp(k.Int("client.tcp_syn_retries")) + startup
}

func init() {
	for _, sc := range registry {
		sc.Weight, sc.Load = weights[sc.ID], loads[sc.ID]
	}
}
