package scenarios

import (
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// Timers as the verdicts see them. Linux keeps its timers on a wheel
// whose ticks are jiffies (1/HZ s): an expiry is rounded up to its level's
// granularity (a tick on the first level, at most 1/8 of the timer's
// length on the others), so a timer never fires early as the kernel
// counts, and late by up to that round-up (opt-keepalive, opt-nodelay
// and proxy-backlog bound it so). The clocks here may see one fire up to
// a jiffy early (synJiffy, tcpmodel.OnSynSlot). jiffyOf reads the HZ of
// the kernel that ran a connection; arrivesAt times a Read against the
// peer's sleep (a Go timer).

// linuxHZ are the tick rates Linux offers (CONFIG_HZ).
var linuxHZ = []int{100, 250, 300, 1000}

// rtoMinUS is TCP_RTO_MIN (net.ipv4.tcp_rto_min_us's default), µs.
const rtoMinUS = 200000

// jiffyOf finds the jiffy of the kernel that reported rtoUS and rttUS
// (tcpi_rto and tcpi_rtt, µs) for one connection. The kernel sets the RTO
// to srtt + rttvar, rttvar floored at TCP_RTO_MIN (200 ms), rounded up to
// whole jiffies (usecs_to_jiffies), and reports it back in µs
// (jiffies_to_usecs): on a connection whose RTT is a fraction of a jiffy,
// tcpi_rto is 200 ms plus one jiffy, which names the HZ. It returns 0 when
// no HZ, or more than one, gives rtoUS.
func jiffyOf(rtoUS, rttUS int) time.Duration {
	var found time.Duration
	n := 0
	for _, hz := range linuxHZ {
		j := ((rtoMinUS+rttUS)*hz + 999999) / 1000000 // usecs_to_jiffies: rounded up
		if j*1000000/hz == rtoUS {                    // jiffies_to_usecs: truncated
			found, n = time.Second/time.Duration(hz), n+1
		}
	}
	if n != 1 {
		return 0
	}
	return found
}

// arrivalLate and arrivalSlack bound how late a Read returns after the
// peer's timer sent what it waits for: the signal's trip over the control
// channel, the server's time.Sleep and the client's wake-up in the
// netpoller are late only by scheduling, the LAN trip is well under a
// millisecond. Alone they were 2–8 ms late; with every scenario running
// at once on 2 cores, 42–62 ms at a 200 ms delay. 10 % + 100 ms stays
// below the shortest delay (200 ms), so twice the delay fails.
const (
	arrivalLate  = 0.1
	arrivalSlack = 100 * time.Millisecond
)

// arrivesAt checks that got, the time from the client's signal to a Read's
// return, is the time the server waited (d, its timer started by the
// signal) plus the segment's one-way trip (half the impaired round trip):
// never earlier, and late only by arrivalLate and arrivalSlack (plus the
// impairment's jitter). Twice or half of it fails.
func arrivesAt(v *scenario.Verdict, name string, got, d time.Duration, k scenario.Knobs) {
	im := k.Impairment()
	v.Timely(name, got, d+im.RTT/2, arrivalLate, arrivalSlack+im.Jitter)
}
