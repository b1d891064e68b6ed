package tests

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/scenario"
)

// impair.rtt on a scenario that knows nothing about it: the agents hold
// half the round trip on each side's ingress, and the kernel's own RTT
// estimate (tcpi_rtt) of a connection on that path shows it. Early is
// always wrong; late is bounded by 3 ms (the target for tcpi_rtt).
func TestImpairRTT(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		scenario string
		rtt      time.Duration
	}{
		{"write-success", 50 * time.Millisecond},
		{"read-partial", 10 * time.Millisecond},
	} {
		t.Run(fmt.Sprintf("%s rtt=%v", tc.scenario, tc.rtt), func(t *testing.T) {
			r := run(t, tc.scenario, scenario.Knobs{"impair.rtt": tc.rtt.String()})
			n := r.Network
			require.NotNil(t, n, "an impaired result carries its network")
			b, _ := json.Marshal(n)
			t.Logf("network: %s", b)
			assert.Equal(t, "delayline", r.Mechanism, "this kernel has no sch_netem")
			want := float64(tc.rtt.Milliseconds())
			assert.GreaterOrEqual(t, n.TcpiRTTMS, want, "tcpi_rtt never below the asked RTT")
			assert.LessOrEqual(t, n.TcpiRTTMS, want+3, "tcpi_rtt within +3 ms")
			assert.GreaterOrEqual(t, n.ProbeConnectMS, want, "the handshake is delayed by the full RTT")
			assert.LessOrEqual(t, n.ProbeConnectMS, want+want/10+3, "connect within RTT +10 %% +3 ms")
			for side, c := range map[string]any{"server": n.Server, "client": n.Client} {
				require.NotNil(t, c, "%s agent counters", side)
			}
			assert.Positive(t, n.Server.DelayLine.Released)
			assert.Positive(t, n.Client.DelayLine.Released)
			assert.Zero(t, n.Server.DelayLine.VerdictErrors+n.Client.DelayLine.VerdictErrors)
		})
	}
}
