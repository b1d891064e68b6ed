// Package tcpmodel is the lab's model of the kernel's TCP timers: when a
// timer may fire (never early, late by a fraction of its length), the SYN
// retransmission schedule and when connect gives up, read for this
// namespace's sysctls or computed for any. Drivers, verdicts and reports
// compare what a run measured against it.
package tcpmodel

import (
	"strconv"
	"time"

	"github.com/tcplab/tcplab/lab/kernel"
)

// OnTime reports whether got, the measured time of something a timer
// ends after want, is neither early nor too late: a timer never fires
// early, so got < want is always wrong; it may fire late by a fraction of
// its length (Linux's timer wheel: up to 1/8) plus slack for scheduling and
// the round trip, which each caller states.
func OnTime(got, want time.Duration, lateFrac float64, slack time.Duration) bool {
	return got >= want && got <= LateBound(want, lateFrac, slack)
}

// LateBound is the latest time OnTime accepts.
func LateBound(want time.Duration, lateFrac float64, slack time.Duration) time.Duration {
	return want + time.Duration(float64(want)*lateFrac) + slack
}

// SynGiveUp is the kernel's model of how long a connect may retry with R
// SYN retransmissions (tcp_model_timeout): 1+2+…+2^R = 2^(R+1)−1 s.
func SynGiveUp(retries int) time.Duration {
	return time.Duration((1<<(retries+1))-1) * time.Second
}

// SynSchedule mirrors the kernel's SYN retransmission timer: the times
// (from the first SYN) at which SYNs are sent, and when connect gives up
// with ETIMEDOUT. The timer starts at 1 s and doubles after each
// retransmission beyond the first `linear` (tcp_syn_linear_timeouts, Linux
// ≥ 6.5; 0 on older kernels); connect gives up at the first firing at or
// after SynGiveUp(retries). With linear=0 the sends are 0, 1, 3, 7, … and
// the give-up is 2^(R+1)−1 s; with the kernel default linear=4 they are
// 0, 1, 2, 3, 4, 5, 7, 11, … and R=3 gives up at 19 s, not 15.
func SynSchedule(retries, linear int) (sends []time.Duration, giveUp time.Duration) {
	limit := SynGiveUp(retries)
	sends = []time.Duration{0}
	t, rto := time.Duration(0), time.Second
	for n := 1; ; n++ {
		t += rto
		if t >= limit {
			return sends, t
		}
		sends = append(sends, t)
		if n > linear {
			rto = min(2*rto, 120*time.Second)
		}
	}
}

// LocalSynSchedule is SynSchedule for this container's own sysctls. A
// kernel without tcp_syn_linear_timeouts (< 6.5) gives linear 0, which is
// its schedule; LocalLinearTimeouts tells the two apart.
func LocalSynSchedule() (sends []time.Duration, giveUp time.Duration, retries, linear int) {
	retries = 6
	if v, ok := kernel.Sysctl("net.ipv4.tcp_syn_retries"); ok {
		retries, _ = strconv.Atoi(v)
	}
	linear, _ = LocalLinearTimeouts()
	sends, giveUp = SynSchedule(retries, linear)
	return sends, giveUp, retries, linear
}

// LocalLinearTimeouts is this namespace's tcp_syn_linear_timeouts and
// whether the kernel has it at all: absent (6.1) and 0 (pinned on 6.12)
// give the same schedule but are different kernels, and a per-kernel
// report must say which it saw.
func LocalLinearTimeouts() (linear int, present bool) {
	v, ok := kernel.Sysctl("net.ipv4.tcp_syn_linear_timeouts")
	if !ok {
		return 0, false
	}
	linear, _ = strconv.Atoi(v)
	return linear, true
}

// TimerJiffy is how early a TCP timer (a SYN or SYN-ACK retransmission)
// may come: the first timer is armed in jiffies, so it fires up to one
// jiffy (10 ms at CONFIG_HZ=100, the coarsest) before its time in real
// time; later ones are re-armed on a jiffy boundary and are never early.
const TimerJiffy = 10 * time.Millisecond

// OnSynSlot finds the SYN slot at which a connect that took d (timed from
// before its first SYN) completed. Linux's timer wheel fires a timer late
// by up to 1/8 of its timeout and never early (but for TimerJiffy), and each
// retransmission is timed from the previous one, so slot s matches
// [s − 10 ms, s + s/8 + 250 ms] (250 ms for scheduling and the round
// trip). ok is false when d lies outside that window.
func OnSynSlot(d time.Duration, slots []time.Duration) (slot time.Duration, ok bool) {
	for i := len(slots) - 1; i >= 0; i-- {
		s := slots[i]
		if d >= s-TimerJiffy {
			return s, OnTime(d, s-TimerJiffy, 1.0/8, 250*time.Millisecond+TimerJiffy)
		}
	}
	return slots[0], false
}
