package scenario_test

import (
	"testing"

	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/scenario"
)

// A result is the runner's doing when its delay line or its roles' timers
// ran more than 3 ms late, and the reason names which; on time, it is TCP's.
func TestRunnerLate(t *testing.T) {
	lateLine := &impair.Network{Server: &impair.Counters{DelayLine: &impair.LineCounters{MaxLateUS: 11600}}}
	for _, tc := range []struct {
		name string
		res  *scenario.Result
		want string
	}{
		{"on time", &scenario.Result{TimersLateMS: map[string]float64{"client": 2.9}}, ""},
		{"roles late", &scenario.Result{TimersLateMS: map[string]float64{"client": 95.9}}, "client's timers fired 95.9 ms late"},
		{"line late", &scenario.Result{Network: lateLine},
			"the delay line ran late (server: release late p99 0.0 ms, max 11.6 ms, read lag max 0.0 ms)"},
		{"both", &scenario.Result{Network: lateLine, TimersLateMS: map[string]float64{"server": 4}},
			"the delay line ran late (server: release late p99 0.0 ms, max 11.6 ms, read lag max 0.0 ms); server's timers fired 4.0 ms late"},
	} {
		if got := tc.res.RunnerLate(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
