// Package impair changes the network of the namespace it runs in: it drops
// TCP SYNs or whole connections with nf_tables, shapes bandwidth with TBF,
// and delays, jitters and loses packets with netem where the kernel has
// sch_netem, or else with the lab's own delay line (NFQUEUE). It runs in an
// agent that has only CAP_NET_ADMIN, one per network namespace that needs it.
//
// This file holds the wire types, which build everywhere; the agent itself
// is Linux-only (agent_linux.go), and elsewhere NewAgent's methods fail.
package impair

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Mechanism names, reported with every result that used an impairment.
const (
	NFTables  = "nftables"
	Netem     = "netem"
	TBF       = "tbf"
	DelayLine = "delayline"
	// Auto picks netem where the kernel has sch_netem, else the delay line.
	Auto = "auto"
)

// ErrUnsupported means this operating system cannot run the agent.
var ErrUnsupported = errors.New("impair: the impairment agent needs Linux (nf_tables, NFQUEUE, netlink)")

// ErrNoQueue means the kernel refused the delay line's NFQUEUE rule for
// want of the target (xt_NFQUEUE, reached through nft_compat, or
// nfnetlink_queue): such a kernel can be impaired only with sch_netem.
// Measured on Debian's 6.1 booted without those modules: the rule's
// flush fails ENOENT.
var ErrNoQueue = errors.New("impair: this kernel has no NFQUEUE (xt_NFQUEUE, nfnetlink_queue), which the delay line needs; only impair.mechanism=netem can run here, where the kernel has sch_netem")

// Spec is one impairment of the namespace the agent runs in. Zero fields
// mean "not this".
type Spec struct {
	Port int `json:"port"` // the TCP port the rule is about (server side)
	// AllTCP applies Delay, Jitter and Loss to every TCP packet that
	// arrives from another host, whatever its ports (Port may then be 0).
	AllTCP bool `json:"all_tcp,omitempty"`
	// AlsoPorts are delayed and lost like Port (the RTT probe's port).
	AlsoPorts []int `json:"also_ports,omitempty"`
	// DropSYN drops this fraction (0..1] of SYNs to Port (a SYN without ACK).
	DropSYN float64 `json:"drop_syn,omitempty"`
	// DropAll drops every packet to and from Port, both directions.
	DropAll bool `json:"drop_all,omitempty"`
	// Loss drops this fraction of packets to and from Port. With Delay or
	// Jitter it is done by the same mechanism, on this namespace's ingress;
	// alone, by nf_tables random-number rules: on input a drop, on output
	// a pick queued and dropped as LossOut does (counted as LossOut).
	Loss float64 `json:"loss,omitempty"`
	// LossOut drops this fraction (in steps of 0.001) of the TCP packets
	// this namespace sends to another host: Port's and AlsoPorts' (every
	// one with AllTCP), to Peers only when given. An nf_tables rule on
	// output picks them and the agent drops them from NFQUEUE, so TCP
	// takes each for sent and lost on the way, whatever the mechanism:
	// beside the delay line's Loss, on ingress, each direction has its own.
	LossOut float64 `json:"loss_out,omitempty"`
	// Delay holds every packet of Port for this long: on this namespace's
	// ingress (delay line) or eth0's egress (netem). A run gives each side
	// half the round trip.
	Delay time.Duration `json:"delay,omitempty"`
	// Jitter varies Delay uniformly by ±Jitter; packets are never reordered.
	Jitter time.Duration `json:"jitter,omitempty"`
	// Mechanism forces netem or the delay line for Delay/Jitter/Loss: Auto
	// (or "") chooses.
	Mechanism string `json:"mechanism,omitempty"`
	// Peers, when given, limit the delay line to packets from these IPv4
	// addresses (the target's other ends); netem cannot select them.
	Peers []netip.Addr `json:"peers,omitempty"`
	// RateKbit limits eth0's egress rate with TBF.
	RateKbit int `json:"rate_kbit,omitempty"`
}

// Delays reports whether s needs netem or the delay line.
func (s Spec) Delays() bool {
	return s.Delay > 0 || s.Jitter > 0 || (s.Loss > 0 && s.Mechanism != "" && s.Mechanism != Auto)
}

// Applied says what Apply did and with which mechanism.
type Applied struct {
	Mechanisms []string `json:"mechanisms"`
}

// Counters are what the agent's mechanisms did so far.
type Counters struct {
	// Dropped is the packets the nf_tables drop rules matched.
	Dropped uint64 `json:"dropped"`
	// Seen is the packets the nf_tables loss rules looked at (impair.loss
	// without delay): Dropped of Seen is the realised loss.
	Seen uint64 `json:"seen,omitempty"`
	// SentOut is the packets the LossOut rules looked at since the agent
	// started, DroppedOut those they dropped: the realised loss out.
	SentOut    uint64 `json:"sent_out,omitempty"`
	DroppedOut uint64 `json:"dropped_out,omitempty"`
	// CPUMS is the agent process's CPU time (user+system) so far, and
	// UpMS how long it has run: its share of a core is CPUMS/UpMS.
	CPUMS float64 `json:"cpu_ms" tcplab:"info"`
	UpMS  float64 `json:"up_ms" tcplab:"info"`
	// DelayLine is the delay line's account; nil when none runs.
	DelayLine *LineCounters `json:"delay_line,omitempty"`
}

// LineCounters account for the delay line: every packet queued is released
// (accepted after its hold), lost on purpose, or still held.
type LineCounters struct {
	Queued        uint64 `json:"queued"`
	Released      uint64 `json:"released"`
	Lost          uint64 `json:"lost"`
	Held          int    `json:"held"`
	VerdictErrors uint64 `json:"verdict_errors" tcplab:"exact"`
	// MaxLateUS is the latest any release came after its due time, and
	// P99LateUS the 99th percentile over every packet released (to
	// lateHistStep's resolution).
	MaxLateUS int64 `json:"max_late_us" tcplab:"info"`
	P99LateUS int64 `json:"p99_late_us" tcplab:"info"`
	// MaxReadLagUS is the longest a packet waited in the queue before the
	// agent read it (from its kernel receive timestamp); the hold counts
	// from arrival, so this lag is not added to the delay.
	MaxReadLagUS int64 `json:"max_read_lag_us" tcplab:"info"`
	// RcvBufBytes is the queue socket's receive buffer: 32 MiB where the
	// agent may force it, net.core.rmem_max's double where it may not
	// (rootless Docker). A burst larger than it passes undelayed.
	RcvBufBytes int `json:"rcvbuf_bytes,omitempty" tcplab:"info"`
	// Failure says why the delay line stopped before it was told to; traffic
	// then flows undelayed (the queue rule's bypass flag).
	Failure string `json:"failure,omitempty"`
}

// Network is what a run's impairment was and what the kernel measured
// through it: the result's evidence that the impairment happened.
type Network struct {
	Mechanism string `json:"mechanism"`
	// What was asked (the impair.* knobs, repeated for the reader).
	RTTMS    float64 `json:"rtt_ms" tcplab:"info"`
	JitterMS float64 `json:"jitter_ms" tcplab:"info"`
	Loss     float64 `json:"loss" tcplab:"info"`
	RateKbit int     `json:"rate_kbit,omitempty" tcplab:"info"`
	// TcpiRTTMS is the kernel's smoothed RTT (TCP_INFO tcpi_rtt) of a probe
	// connection through the impaired path, after a few echoes.
	TcpiRTTMS float64 `json:"tcpi_rtt_ms"`
	// ProbeConnectMS is the fastest of the probe's connects (five at the
	// least; results recorded before 2026-12-04 hold one): one RTT if the
	// handshake is delayed too.
	ProbeConnectMS float64 `json:"probe_connect_ms"`
	// ProbeEchoes one-byte round trips (impair.probe), over up to 10
	// parallel connections: their median, 99th percentile and maximum,
	// and their 10th and 90th percentiles (the jitter's spread).
	ProbeEchoes     int     `json:"probe_echoes" tcplab:"exact"`
	ProbeEchoP10MS  float64 `json:"probe_echo_p10_ms,omitempty"`
	ProbeEchoP90MS  float64 `json:"probe_echo_p90_ms,omitempty"`
	ProbeEchoP50MS  float64 `json:"probe_echo_p50_ms"`
	ProbeEchoP99MS  float64 `json:"probe_echo_p99_ms"`
	ProbeEchoMaxMS  float64 `json:"probe_echo_max_ms" tcplab:"info"`
	ProbeBulkBytes  int     `json:"probe_bulk_bytes,omitempty" tcplab:"info"`
	ProbeBulkMBps   float64 `json:"probe_bulk_mb_per_s,omitempty"`         // 10^6 B/s, to the server's reply
	ProbeBulkTookMS float64 `json:"probe_bulk_ms,omitempty" tcplab:"info"` // MBps is bytes over this
	// ProbeBulkRetrans is the bulk connection's tcpi_total_retrans.
	ProbeBulkRetrans uint32 `json:"probe_bulk_retrans,omitempty" tcplab:"info"`
	// Peer is the same probe through another tool (impair.probe_peer), for
	// comparison; nil when not asked.
	Peer *PeerProbe `json:"peer,omitempty" tcplab:"info"`
	// Server and Client are each agent's counters at the end of the run.
	Server *Counters `json:"server,omitempty"`
	Client *Counters `json:"client,omitempty"`
}

// PeerProbe is the probe's round trips through a peer tool with the same
// added RTT: a userspace proxy accepts the connection itself, so its
// connect times show whether it delays the handshake.
type PeerProbe struct {
	Tool      string    `json:"tool"`
	Echoes    int       `json:"echoes"`
	EchoP50MS float64   `json:"echo_p50_ms"`
	EchoP99MS float64   `json:"echo_p99_ms"`
	EchoMaxMS float64   `json:"echo_max_ms"`
	ConnectMS []float64 `json:"connect_ms"`
}

// LateBound is how late the delay line may run before a run's timings are
// its doing rather than TCP's: a release or a read more than this after
// due. A failed run whose agents report more is measured once more.
const LateBound = 3 * time.Millisecond

// LineLate reports whether an agent of n released or read a packet more
// than LateBound late.
func LineLate(n *Network) bool {
	for _, a := range n.agents() {
		if d := a.c.DelayLine; d != nil && (d.MaxLateUS > LateBound.Microseconds() || d.MaxReadLagUS > LateBound.Microseconds()) {
			return true
		}
	}
	return false
}

// Lateness renders each agent's release lateness for a message.
func Lateness(n *Network) string {
	var parts []string
	for _, a := range n.agents() {
		if d := a.c.DelayLine; d != nil {
			parts = append(parts, fmt.Sprintf("%s: release late p99 %.1f ms, max %.1f ms, read lag max %.1f ms",
				a.name, float64(d.P99LateUS)/1e3, float64(d.MaxLateUS)/1e3, float64(d.MaxReadLagUS)/1e3))
		}
	}
	return strings.Join(parts, "; ")
}

type namedCounters struct {
	name string
	c    *Counters
}

// agents are n's agents' counters, server first; none for a nil n.
func (n *Network) agents() []namedCounters {
	if n == nil {
		return nil
	}
	var out []namedCounters
	if n.Server != nil {
		out = append(out, namedCounters{"server", n.Server})
	}
	if n.Client != nil {
		out = append(out, namedCounters{"client", n.Client})
	}
	return out
}
