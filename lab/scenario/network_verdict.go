package scenario

import (
	"time"

	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/tcpmodel"
)

// Bounds of the realised network. The delay line releases a packet when
// it is due, never before; a run whose line was more than impair.LateBound
// late is measured again, so what is left of lateness is that bound on
// each side plus the kernel's own few hundred µs.
const (
	netLateFrac  = 0.1                  // of the asked RTT: timer and scheduling
	netLateSlack = 2 * impair.LateBound // both sides' release lateness
	rateBelow    = 0.15                 // TBF goodput: headers, slow start, the reply's round trip
)

// p99Probes is the fewest round trips whose p99 is not simply their max.
const p99Probes = 100

// NetworkVerdicts judges the impair.* network a run asked for against what
// the probe and the agents measured through it: the realised impairment is
// a verdict like any other. Each bound fails at twice and at half the
// asked value.
func NetworkVerdicts(im Impairment, n *impair.Network, v *Verdict) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	v.Expect("the probe made every round trip asked (impair.probe)", n.ProbeEchoes == im.Probe, "%d of %d", n.ProbeEchoes, im.Probe)
	if im.RTT > 0 {
		// Each side holds half the RTT ± half the jitter, so a round trip
		// takes RTT ± jitter, the handshake included.
		lo := im.RTT - im.Jitter
		hi := tcpmodel.LateBound(im.RTT+im.Jitter, netLateFrac, netLateSlack)
		between := func(name string, got time.Duration) {
			v.Expect(name, got >= lo && got <= hi, "%v, want %v … %v (RTT %v ± jitter %v, +%.0f%% + %v)", got, lo, hi, im.RTT, im.Jitter, netLateFrac*100, netLateSlack)
		}
		if im.Loss == 0 {
			between("the handshake took the asked RTT (probe connect)", ms(n.ProbeConnectMS))
			// The p99 of fewer than 100 round trips is their slowest one:
			// one echo whose process was descheduled (18.9 ms of 10 at
			// +10 ms on a busy runner, the delay line on time) says
			// nothing of the network. Jitter asks for 200 by default.
			if im.Probe >= p99Probes {
				between("round trips take the asked RTT (probe echo p99)", ms(n.ProbeEchoP99MS))
			}
		} else {
			// A lost SYN or SYN-ACK is sent again when the 1 s SYN timer
			// fires (late by up to 1/8): the handshake takes the RTT plus
			// a whole number of seconds. One lost echo of a few moves the
			// p99 by a retransmission timeout: it pins nothing, so it is
			// not judged with loss.
			d := ms(n.ProbeConnectMS)
			k := max(0, (d-lo+time.Second/2)/time.Second)
			sLo, sHi := lo+k*time.Second, hi+k*time.Second+k*time.Second/8
			v.Expect("the handshake took the asked RTT, plus whole seconds for lost SYNs (probe connect)", d >= sLo && d <= sHi,
				"%v, want %v … %v (RTT %v ± jitter %v, %d SYN timeouts)", d, sLo, sHi, im.RTT, im.Jitter, k)
		}
		between("round trips take the asked RTT (probe echo p50)", ms(n.ProbeEchoP50MS))
		// The kernel's smoothed RTT of the probe connection: the evidence
		// that TCP itself saw the delay. With loss, a sample taken across
		// a lost echo's recovery (a delayed ACK, a probe's wait) lifts
		// it (59.6 ms seen at +20 ms and 5 % loss): only its floor holds.
		if got := ms(n.TcpiRTTMS); im.Loss == 0 {
			between("the kernel measured the asked RTT (tcpi_rtt)", got)
		} else {
			v.Expect("the kernel measured at least the asked RTT (tcpi_rtt; with loss a recovery may lift it)", got >= lo,
				"%v, want ≥ %v (RTT %v − jitter %v)", got, lo, im.RTT, im.Jitter)
		}
	}
	if im.Jitter > 0 && im.Loss == 0 {
		// RTT ± jitter is the sum of two uniform holds of ± jitter/2: a
		// triangle on RTT ± jitter, whose 10th and 90th percentiles lie
		// 1.106·jitter apart. A line that ignores jitter puts them
		// together; half the jitter gives 0.553·jitter, twice 2.21·jitter.
		// The middle 80 % is judged, not the tail: a runner that stalls a
		// few round trips moves a p99 by as much as the jitter (a CI run
		// without jitter once spread p99 − p50 over 6 ms), but not a
		// tenth of them. Sampling moves the spread by about 0.07·jitter
		// at 200 round trips.
		spread := ms(n.ProbeEchoP90MS - n.ProbeEchoP10MS)
		full := time.Duration(jitterP10P90 * float64(im.Jitter))
		lo, hi := time.Duration(0.8*float64(im.Jitter)), tcpmodel.LateBound(full, 0.25, 2*time.Millisecond)
		v.Expect("round trips spread by the asked jitter (p90 − p10: 1.106·jitter, ≥ 0.8·jitter, ≤ +25 % + 2 ms)", spread >= lo && spread <= hi,
			"p90 − p10 = %v, want %v … %v (jitter %v)", spread, lo, hi, im.Jitter)
	}
	lines := 0
	for _, c := range []*impair.Counters{n.Server, n.Client} {
		if c != nil && c.DelayLine != nil {
			lines++
		}
	}
	for _, a := range []struct {
		side string
		c    *impair.Counters
	}{{"server", n.Server}, {"client", n.Client}} {
		if a.c == nil {
			continue
		}
		// A line that failed (the fault drills) abandoned what it held:
		// the run already fails with the failure, its account is moot.
		if l := a.c.DelayLine; l != nil && l.Failure == "" {
			v.Expect(a.side+" delay line: every packet queued was released, lost or is held", l.Released+l.Lost+uint64(l.Held) == l.Queued,
				"queued %d, released %d, lost %d, held %d", l.Queued, l.Released, l.Lost, l.Held)
			v.Expect(a.side+" delay line: no verdict failed", l.VerdictErrors == 0, "%d failed", l.VerdictErrors)
			if im.Loss > 0 {
				v.Count(a.side+" delay line: lost packets match impair.loss", int(l.Lost), int(l.Queued), im.Loss, FalseAlarm/float64(2*lines))
			} else {
				v.Expect(a.side+" delay line: nothing lost without impair.loss", l.Lost == 0, "lost %d", l.Lost)
			}
		}
	}
	if im.Loss > 0 && lines == 0 {
		// nf_tables drops in the server's namespace, both directions: in
		// by a rule, out through a queue (SentOut, DroppedOut).
		var seen, dropped uint64
		for _, c := range []*impair.Counters{n.Server, n.Client} {
			if c != nil {
				seen, dropped = seen+c.Seen+c.SentOut, dropped+c.Dropped+c.DroppedOut
			}
		}
		v.Count("nf_tables dropped the asked share (impair.loss)", int(dropped), int(seen), im.Loss, FalseAlarm)
	}
	if im.RateKbit > 0 {
		// TBF on each side's egress: goodput is never above the rate
		// (payload is less than the wire's bytes) and at most 15 % below.
		rate := float64(im.RateKbit) * 1000 / 8 / 1e6
		v.Expect("a bulk transfer runs at the asked rate (impair.rate)", n.ProbeBulkMBps <= rate && n.ProbeBulkMBps >= (1-rateBelow)*rate,
			"%.3f MB/s, want %.3f … %.3f MB/s", n.ProbeBulkMBps, (1-rateBelow)*rate, rate)
	}
}

// jitterP10P90 is the distance between the 10th and 90th percentiles of a
// triangle on ± jitter (two uniform holds of ± jitter/2), in jitters:
// 2·(1 − √0.2).
const jitterP10P90 = 1.1056
