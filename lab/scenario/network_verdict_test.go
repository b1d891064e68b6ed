package scenario_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/scenario"
)

// The jitter's spread (p90 − p10 of the probe's round trips) is pinned on
// both sides: a delay line applying the asked jitter passes, one ignoring
// it, applying half or twice of it fails. Every case has a p99 that a few
// stalled round trips lifted 9 ms over the median, which the p99 − p50
// spread this replaced took for jitter.
func TestJitterSpread(t *testing.T) {
	im := scenario.Impairment{RTT: 20 * time.Millisecond, Jitter: 10 * time.Millisecond, Probe: 200}
	// A triangle on 20 ± 10 ms: p10 and p90 at ∓ 5.53 ms.
	for _, tc := range []struct {
		name     string
		p10, p90 float64
		ok       bool
	}{
		{"asked jitter", 14.47, 25.53, true},
		{"no jitter", 19.9, 20.6, false},
		{"half the jitter", 17.24, 22.76, false},
		{"twice the jitter", 8.94, 31.06, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := &impair.Network{ProbeEchoes: 200, ProbeConnectMS: 20.5, TcpiRTTMS: 20.4,
				ProbeEchoP10MS: tc.p10, ProbeEchoP50MS: 20.3, ProbeEchoP90MS: tc.p90, ProbeEchoP99MS: 29.5}
			var v scenario.Verdict
			scenario.NetworkVerdicts(im, n, &v)
			found := false
			for _, c := range v.Checks {
				if strings.HasPrefix(c.Name, "round trips spread by the asked jitter") {
					found = true
					if c.OK != tc.ok {
						t.Errorf("p10 %.2f, p90 %.2f: ok=%v (%s), want %v", tc.p10, tc.p90, c.OK, c.Detail, tc.ok)
					}
				}
			}
			if !found {
				t.Fatal("no spread check with jitter and no loss")
			}
		})
	}
}
