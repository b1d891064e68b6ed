package scenario_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/scenario"
)

// Every scenario accepts the impair.* knobs; bad values fail in Resolve,
// before anything starts, and the values decide which agents a run needs.
func TestImpairKnobs(t *testing.T) {
	sc := &scenario.Scenario{ID: "x"}
	for _, tc := range []struct {
		set     scenario.Knobs
		wantErr string
		want    scenario.Impairment
		active  bool
		client  bool // needs an agent in the client's namespace
	}{
		{set: nil, want: scenario.Impairment{Mechanism: "auto", Probe: 10}},
		{set: scenario.Knobs{"impair.rtt": "50ms"}, want: scenario.Impairment{RTT: 50 * time.Millisecond, Mechanism: "auto", Probe: 10}, active: true, client: true},
		{set: scenario.Knobs{"impair.loss": "0.1"}, want: scenario.Impairment{Loss: 0.1, Mechanism: "auto", Probe: 10}, active: true},
		{set: scenario.Knobs{"impair.loss": "0.1", "impair.mechanism": "delayline"}, want: scenario.Impairment{Loss: 0.1, Mechanism: "delayline", Probe: 10}, active: true, client: true},
		// The rate and the jitter are judged, so the probe measures them.
		{set: scenario.Knobs{"impair.rate": "1000"}, want: scenario.Impairment{RateKbit: 1000, Mechanism: "auto", Probe: 10, ProbeBulk: 250000}, active: true, client: true},
		{set: scenario.Knobs{"impair.rtt": "10ms", "impair.jitter": "10ms"}, want: scenario.Impairment{RTT: 10 * time.Millisecond, Jitter: 10 * time.Millisecond, Mechanism: "auto", Probe: 200}, active: true, client: true},
		{set: scenario.Knobs{"impair.rtt": "-5ms"}, wantErr: `impair.rtt="-5ms": out of range [0s, 1m0s]`},
		{set: scenario.Knobs{"impair.rtt": "abc"}, wantErr: "want a duration"},
		{set: scenario.Knobs{"impair.rtt": "61s"}, wantErr: `impair.rtt="61s": out of range [0s, 1m0s]`},
		{set: scenario.Knobs{"impair.crash_after": "-1s"}, wantErr: `impair.crash_after="-1s": out of range [0s, 1m0s]`},
		{set: scenario.Knobs{"impair.rate": "20000000"}, wantErr: `impair.rate="20000000": out of range [0, 10000000]`},
		{set: scenario.Knobs{"server.somaxconn": "99999"}, wantErr: `server.somaxconn="99999": out of range [0, 65535]`},
		{set: scenario.Knobs{"impair.loss": "1.5"}, wantErr: "from 0 to 1"},
		{set: scenario.Knobs{"impair.rtt": "10ms", "impair.jitter": "11ms"}, wantErr: "larger than impair.rtt"},
		{set: scenario.Knobs{"impair.mechanism": "tc"}, wantErr: "want one of auto, netem, delayline"},
		{set: scenario.Knobs{"impair.probe": "0"}, wantErr: `impair.probe="0": out of range [1, 100000]`},
	} {
		k, err := sc.Resolve(tc.set)
		if tc.wantErr != "" {
			require.Error(t, err, "%v", tc.set)
			assert.Contains(t, err.Error(), tc.wantErr)
			continue
		}
		require.NoError(t, err, "%v", tc.set)
		im := k.Impairment()
		assert.Equal(t, tc.want, im, "%v", tc.set)
		assert.Equal(t, tc.active, im.Active(), "active %v", tc.set)
		assert.Equal(t, tc.client, im.ClientAgent(), "client agent %v", tc.set)
		assert.Equal(t, tc.active, im.Budget() > 0, "budget %v", tc.set)
	}
}
