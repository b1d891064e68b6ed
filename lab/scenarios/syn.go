package scenarios

import (
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/tcpmodel"
)

// The SYN schedule: the slots a connect's SYNs are sent on, as the
// recorded sysctls give them, and the checks that time dials against it.

// synSysctls checks that the client ran with the tcp_syn_retries its knobs
// pinned (the harness writes it into the client's namespace; the driver
// read it back), and returns the schedule the recorded sysctls give: the
// times SYNs are sent and the give-up.
func synSysctls(k scenario.Knobs, v *scenario.Verdict, retries, linear int) (sends []time.Duration, giveUp time.Duration) {
	want := k.Int("client.tcp_syn_retries")
	v.Expect("the client's tcp_syn_retries is the pinned one", retries == want, "read %d, pinned %d", retries, want)
	// A negative linear count is no kernel's: SynSchedule would read it
	// as "double from the first retransmission on", so reject it here.
	v.Expect("tcp_syn_linear_timeouts is a count", linear >= 0, "read %d", linear)
	if pin, ok := k["client.tcp_syn_linear_timeouts"]; ok {
		// Pinned (the runner pins 0 where the kernel has the sysctl): the
		// driver must have read that.
		want := k.Int("client.tcp_syn_linear_timeouts")
		v.Expect("the client's tcp_syn_linear_timeouts is the pinned one", linear == want, "read %d, pinned %s", linear, pin)
	}
	return tcpmodel.SynSchedule(min(max(retries, 0), 20), max(linear, 0))
}

// synSlotOf is the slot a connect that took d completed on, by
// tcpmodel.OnSynSlot (never early but for one jiffy, late by at most 1/8
// of the slot plus 250 ms): -1 when d is on none of sends.
func synSlotOf(d time.Duration, sends []time.Duration) int {
	s, ok := tcpmodel.OnSynSlot(d, sends)
	if !ok {
		return -1
	}
	for i, x := range sends {
		if x == s {
			return i
		}
	}
	return -1
}

// synsBefore bounds how many of sends a connect that was abandoned after
// d (from before its first SYN) had sent: surely the slots whose latest
// firing (slot + 1/8 + 250 ms, as OnSynSlot) is before d, at most the
// slots whose earliest (slot − one jiffy) is.
func synsBefore(d time.Duration, sends []time.Duration) (lo, hi int) {
	for _, s := range sends {
		if tcpmodel.LateBound(s, 1.0/8, 250*time.Millisecond) < d {
			lo++
		}
		if s-10*time.Millisecond < d {
			hi++
		}
	}
	return lo, hi
}

// firstSYNs are the first two SYN slots, the same under every schedule:
// the first SYN, and its retransmission when the initial 1 s RTO fires.
var firstSYNs = []time.Duration{0, time.Second}

// synJiffy: a kernel timer may fire up to a jiffy (4 ms at HZ=250) before
// its nominal time as the clocks here see it.
const synJiffy = 4 * time.Millisecond
