package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// impair.rtt on a scenario that knows nothing about it: the agents hold
// half the round trip on each side's ingress. The run's network verdicts
// (scenario.NetworkVerdicts) judge the handshake, the round trips and the
// kernel's own RTT estimate (tcpi_rtt) against it; a run whose delay line
// ran late is measured again by the harness.
func TestImpairRTT(t *testing.T) {
	t.Parallel() // Quiet runs: the harness paces the others' start-ups
	for _, tc := range []struct {
		scenario string
		rtt      time.Duration
	}{
		{"write-success", 50 * time.Millisecond},
		{"read-partial", 10 * time.Millisecond},
	} {
		t.Run(fmt.Sprintf("%s rtt=%v", tc.scenario, tc.rtt), func(t *testing.T) {
			t.Parallel()
			r := run(t, tc.scenario, scenario.Knobs{"impair.rtt": tc.rtt.String()})
			require.NotNil(t, r.Network, "an impaired result carries its network")
			b, _ := json.Marshal(r.Network)
			t.Logf("network: %s", b)
			assert.Equal(t, "delayline", r.Mechanism, "this kernel has no sch_netem")
		})
	}
}

// BenchmarkImpairRTT measures the delay line's precision in containers:
// for an added RTT of 10, 50 and 100 ms, 1,000 one-byte round trips (p50,
// p99, max over the asked RTT), the handshake, tcpi_rtt, a 128 MiB bulk
// transfer with large buffers (32 MiB tcp_rmem/tcp_wmem maxima), and the
// agents' CPU; and side by side the same round trips through toxiproxy's
// latency toxic (the best userspace peer) on the same path between the
// containers. Run with -benchtime=1x: one run per RTT is 1,000 samples.
func BenchmarkImpairRTT(b *testing.B) {
	if lab == nil {
		b.Skip(noLab)
	}
	for _, rtt := range []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond} {
		b.Run("rtt="+rtt.String(), func(b *testing.B) {
			for b.Loop() {
				res, err := lab.Run(context.Background(), "read-partial", scenario.Knobs{"impair.rtt": rtt.String(),
					"impair.probe": "1000", "impair.probe_bulk": fmt.Sprint(128 << 20), "impair.probe_peer": "true",
					// Large buffers: a 50 ms window of 50 MB/s is 2.5 MB.
					"server.tcp_rmem": "4096 131072 33554432", "client.tcp_wmem": "4096 16384 33554432"})
				require.NoError(b, err)
				n := res.Network
				require.NotNil(b, n)
				want := float64(rtt.Microseconds()) / 1000
				b.ReportMetric(n.ProbeEchoP50MS-want, "p50+ms")
				b.ReportMetric(n.ProbeEchoP99MS-want, "p99+ms")
				b.ReportMetric(n.ProbeEchoMaxMS-want, "max+ms")
				b.ReportMetric(n.ProbeConnectMS, "connect-ms")
				b.ReportMetric(n.TcpiRTTMS, "tcpi-rtt-ms")
				b.ReportMetric(n.ProbeBulkMBps, "bulk-MB/s")
				require.NotNil(b, n.Peer)
				b.ReportMetric(n.Peer.EchoP50MS-want, "toxiproxy-p50+ms")
				b.ReportMetric(n.Peer.EchoP99MS-want, "toxiproxy-p99+ms")
				b.ReportMetric(n.Peer.EchoMaxMS-want, "toxiproxy-max+ms")
				b.ReportMetric(n.Peer.ConnectMS[0], "toxiproxy-connect-ms")
				b.ReportMetric(100*n.Server.CPUMS/n.Server.UpMS, "server-agent-cpu-%")
				b.ReportMetric(100*n.Client.CPUMS/n.Client.UpMS, "client-agent-cpu-%")
				js, _ := json.Marshal(n)
				b.Logf("%s", js)
			}
		})
	}
}

// A delay line that dies mid-run (its queue abandoned) must not stall the
// traffic (the queue rule's bypass flag lets it through, undelayed), and
// the run must fail saying so: a result never passes on an impairment that
// did not happen.
func TestImpairAgentDies(t *testing.T) {
	t.Parallel()
	if lab == nil {
		t.Skip(noLab)
	}
	res, err := lab.Run(context.Background(), "read-partial", scenario.Knobs{"impair.rtt": "100ms", "impair.crash": "kill"})
	require.Error(t, err)
	require.NotNil(t, res)
	assert.Contains(t, res.Error, "impairment did not hold: server delay line failed mid-run")
	assert.False(t, res.OK)
	// The scenario itself ran through the dead delay line: half of the
	// round trip (the client's ingress) was still held, the server's not.
	for _, c := range res.Checks {
		assert.True(t, c.OK, "%s: %s", c.Name, c.Detail)
	}
	o := obs[scenarios.ReadPartialObs](t, res)
	took := o.ReturnedAfterMS
	t.Logf("error: %s; read returned after %.1f ms", res.Error, took)
	assert.Less(t, took, 100.0, "the server side no longer delays: at most the client's half (50 ms) plus scheduling")
}

// Jitter and loss through the same mechanisms: with a delay, loss is the
// delay line's (each side drops on its ingress); alone, nf_tables random
// drops in the server's namespace. The network verdicts judge the realised
// loss (inside its binomial interval: 1,000 round trips tell 10 % from
// 5 %) and, apart from loss (whose recoveries make the p99), the jitter's
// spread.
func TestImpairLossJitter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		knobs scenario.Knobs
		mech  string
	}{
		{"delay line jitter", scenario.Knobs{"impair.rtt": "20ms", "impair.jitter": "10ms", "impair.probe": "200"}, "delayline"},
		{"delay line loss", scenario.Knobs{"impair.rtt": "20ms", "impair.loss": "0.05", "impair.probe": "1000"}, "delayline"},
		{"nftables", scenario.Knobs{"impair.loss": "0.05", "impair.probe": "1000"}, "nftables"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, "write-success", tc.knobs)
			require.NotNil(t, r.Network)
			b, _ := json.Marshal(r.Network)
			t.Logf("network: %s", b)
			assert.Equal(t, tc.mech, r.Mechanism)
			if tc.mech == "nftables" {
				require.NotNil(t, r.Network.Client, "every run has an agent in the client's namespace")
				assert.Zero(t, r.Network.Client.Dropped, "loss alone is dropped in the server's namespace only")
			}
		})
	}
}

// The server's delay line dies or stops during a bulk transfer through a +100 ms delay
// line. Either way the transfer completes undelayed on that side (bypass)
// and the run fails; a clean stop (SIGTERM: every held packet released,
// later ones in arrival order, then the rules flushed and the table
// deleted) neither loses nor reorders anything, so nothing is
// retransmitted, while a killed agent's held packets are left to the
// kernel.
func TestImpairAgentStops(t *testing.T) {
	// "A clean stop retransmits nothing" is a timer claim: five runs
	// starting beside it starved the delay line into tail loss probes
	// (releases 30–90 ms late on all three attempts, in a full CI run), so
	// its runs are Quiet and the harness paces the others' start-ups.
	t.Parallel()
	if lab == nil {
		t.Skip(noLab)
	}
	for _, tc := range []struct {
		mode    string
		retrans bool // the bulk connection had to retransmit
	}{{"term", false}, {"kill", true}} {
		mode := tc.mode
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			// A bulk transfer through the delay line runs Alone (nothing
			// beside it), so no late release sets off a tail loss probe
			// the stop did not cause.
			res, err := lab.Run(context.Background(), "read-partial", scenario.Knobs{"impair.rtt": "100ms", "impair.crash": mode,
				"impair.crash_after": "300ms", "impair.probe_bulk": fmt.Sprint(64 << 20)})
			require.Error(t, err)
			require.NotNil(t, res)
			require.NotNil(t, res.Network)
			b, _ := json.Marshal(res.Network)
			t.Logf("%s, %d attempt(s): %s\nnetwork: %s", mode, res.Attempts, res.Error, b)
			want := map[string]string{"term": "server agent: no delay line runs any more", "kill": "server delay line failed mid-run"}[mode]
			assert.Contains(t, res.Error, "impairment did not hold: "+want)
			assert.Equal(t, 64<<20, res.Network.ProbeBulkBytes, "the transfer completed")
			assert.Equal(t, tc.retrans, res.Network.ProbeBulkRetrans > 0, "retransmissions: %d", res.Network.ProbeBulkRetrans)
		})
	}
}

// impair.rate limits each direction with TBF; the network verdicts judge
// a bulk transfer's goodput against it (never above, at most 15 % below).
func TestImpairRate(t *testing.T) {
	t.Parallel()
	r := run(t, "write-success", scenario.Knobs{"impair.rate": "8000"})
	require.NotNil(t, r.Network)
	assert.Equal(t, "tbf", r.Mechanism)
	assert.Positive(t, r.Network.ProbeBulkBytes, "impair.rate alone measures the rate")
}
