package netimpair

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/tcplab/tcplab/lab/impair"
)

// Counters are what the sidecar did so far (the delay line's; with netem
// only Dropped's nf_tables part and Failure are known).
type Counters struct {
	// Queued packets entered the delay line; each was Released after its
	// hold, Dropped (Loss), or is still Held.
	Queued, Released, Dropped uint64
	Held                      int
	// MaxLate is the latest any release came after its due time, P99Late
	// its 99th percentile: the delay line's own error.
	MaxLate, P99Late time.Duration
	// RcvBufBytes is the delay line's queue buffer: 32 MiB, or twice
	// net.core.rmem_max where the sidecar may not force it (rootless
	// Docker). A burst of packets larger than it passes undelayed.
	RcvBufBytes int
	// Failure says why the delay line stopped on its own; traffic then
	// flows undelayed.
	Failure string
	// SentOut packets out of the target met LossOut's rules since
	// Attach; DroppedOut of them were dropped.
	SentOut, DroppedOut uint64
}

// Counters reads the sidecar's counters.
func (h *Handle) Counters(ctx context.Context) (Counters, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out Counters
	if h.closed {
		return out, ErrClosed
	}
	var c impair.Counters
	if err := h.call(ctx, "counters", nil, &c); err != nil {
		return out, err
	}
	out.Dropped = c.Dropped
	out.SentOut, out.DroppedOut = c.SentOut, c.DroppedOut
	if d := c.DelayLine; d != nil {
		out.Queued, out.Released, out.Held = d.Queued, d.Released, d.Held
		out.Dropped += d.Lost
		out.MaxLate = time.Duration(d.MaxLateUS) * time.Microsecond
		out.P99Late = time.Duration(d.P99LateUS) * time.Microsecond
		out.RcvBufBytes = d.RcvBufBytes
		out.Failure = d.Failure
	}
	return out, nil
}

// ConnRTT is one of the target's connections as the target's own TCP
// stack measured it (TCP_INFO).
type ConnRTT struct {
	Local, Remote netip.AddrPort
	// SRTT is the kernel's smoothed RTT (tcpi_rtt), RTTVar its mean
	// deviation, MinRTT the least sample in the last 5 minutes
	// (tcpi_min_rtt).
	SRTT, RTTVar, MinRTT time.Duration
}

// RTTs is what RTT measured.
type RTTs struct {
	Conns []ConnRTT
	// SRTT and MinRTT are the medians of Conns'.
	SRTT, MinRTT time.Duration
}

// ErrNoConnections: RTT found no established connection to measure.
var ErrNoConnections = errors.New("netimpair: the target has no established TCP connection with another host to measure")

// RTT measures the round-trip time the impairment really gives: the
// sidecar reads, from inside the target's namespace (sock_diag, as ss -ti
// does), the RTT the target's own TCP stack measured on each of its
// established IPv4 connections with another host (to or from Ports, when
// Attach had them). It sends nothing: the target must have connections,
// and the kernel's samples come from the ACKs of the target's own data,
// so a peer's delayed ACK (up to 40 ms on Linux, more elsewhere) can
// raise SRTT; MinRTT, the least sample, cannot.
func (h *Handle) RTT(ctx context.Context) (RTTs, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out RTTs
	if h.closed {
		return out, ErrClosed
	}
	var cs []impair.ConnRTT
	if err := h.call(ctx, "rtt", impair.RTTQuery{Ports: h.cfg.ports}, &cs); err != nil {
		return out, err
	}
	if len(cs) == 0 {
		return out, ErrNoConnections
	}
	us := func(v uint32) time.Duration { return time.Duration(v) * time.Microsecond }
	var srtt, minrtt []time.Duration
	for _, c := range cs {
		l, _ := netip.ParseAddrPort(c.Local)
		r, _ := netip.ParseAddrPort(c.Remote)
		out.Conns = append(out.Conns, ConnRTT{Local: l, Remote: r, SRTT: us(c.SRTTUS), RTTVar: us(c.RTTVarUS), MinRTT: us(c.MinRTTUS)})
		srtt, minrtt = append(srtt, us(c.SRTTUS)), append(minrtt, us(c.MinRTTUS))
	}
	slices.Sort(srtt)
	slices.Sort(minrtt)
	out.SRTT, out.MinRTT = srtt[len(srtt)/2], minrtt[len(minrtt)/2]
	return out, nil
}
