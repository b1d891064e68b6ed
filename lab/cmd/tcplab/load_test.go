//go:build !container

package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/compose"
	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// Compose, the harness and `tcplab run` give a run one load class, each
// by the path it really takes: compose's runs (compose.Runs, which After
// and Dependencies chain by), the harness's row (harness.Row, what Lab.Run
// paces by), and `tcplab run`'s plan (plan, whose rows Lab.RunRow paces on
// the host and kernelJobs runs alone on VMs when not Neutral).
// latency-bdp is a Neutral scenario whose default impair.rtt puts it
// through the delay line, so its knobs move it between all three classes.
func TestOneLoadClass(t *testing.T) {
	sc, err := scenarios.Lookup("latency-bdp")
	require.NoError(t, err)
	require.Equal(t, scenario.Neutral, sc.Load, "the scenario's own Load")
	for _, tc := range []struct {
		name string
		args []string       // tcplab run's --set flags
		set  scenario.Knobs // nil: the scenario's cases
		want scenario.Load
	}{
		{"its cases: the delay line's default 50 ms", nil, nil, scenario.Quiet},
		{"no delay line", []string{"--set", "impair.rtt=0s"}, scenario.Knobs{"impair.rtt": "0s"}, scenario.Neutral},
		{"another RTT", []string{"--set", "impair.rtt=20ms"}, scenario.Knobs{"impair.rtt": "20ms"}, scenario.Quiet},
		{"a bulk probe through the delay line", []string{"--set", "impair.probe_bulk=1000000"},
			scenario.Knobs{"impair.probe_bulk": "1000000"}, scenario.Alone},
		{"a bulk probe, no delay line", []string{"--set", "impair.probe_bulk=1000000", "--set", "impair.rtt=0s"},
			scenario.Knobs{"impair.probe_bulk": "1000000", "impair.rtt": "0s"}, scenario.Neutral},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sets := sc.Cases
			if tc.set != nil {
				sets = []scenario.Knobs{tc.set}
			}
			// Compose: the scenario with these cases, as the compose
			// generator plans the catalogue.
			one := *sc
			one.Cases = sets
			runs, err := compose.Runs([]*scenario.Scenario{&one})
			require.NoError(t, err)
			// tcplab run, on the host and on a VM kernel.
			f, err := parseRun(append([]string{sc.ID}, tc.args...))
			require.NoError(t, err)
			rows, err := plan(f)
			require.NoError(t, err)
			jobs := kernelJobs(rows, []string{"6.12"}, 1)
			require.Len(t, runs, len(sets))
			require.Len(t, rows, len(sets))
			require.Len(t, jobs, len(sets))
			for i, set := range sets {
				// The harness: what Lab.Run plans before it paces.
				row, err := harness.Row(sc.ID, set)
				require.NoError(t, err)
				assert.Equal(t, tc.want, runs[i].Load, "compose %v", set)
				assert.Equal(t, tc.want, row.Load, "the harness %v", set)
				assert.Equal(t, tc.want, rows[i].Load, "tcplab run %v", set)
				assert.Equal(t, tc.want != scenario.Neutral, jobs[i].Exclusive, "tcplab run --kernel runs it alone: %v", set)
				assert.Equal(t, row.Weight, rows[i].Weight, "the harness and tcplab run weigh it alike")
				assert.Equal(t, row.Weight, runs[i].Weight, "compose weighs it alike")
			}
		})
	}
}
