package harness_test

import (
	"errors"
	"testing"

	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/planner"
	"github.com/tcplab/tcplab/lab/scenario"
)

// Measure runs a failed run again only when the runner was late, and
// never a fault drill or an OOM kill; Attempts says how many runs.
func TestMeasure(t *testing.T) {
	late := func(ok bool) *scenario.Result {
		return &scenario.Result{OK: ok, TimersLateMS: map[string]float64{"client": 50}}
	}
	onTime := &scenario.Result{OK: false, TimersLateMS: map[string]float64{"client": 0.5}}
	plain, drill := planner.Row{Knobs: scenario.Knobs{}}, planner.Row{Knobs: scenario.Knobs{"impair.crash": "kill"}}
	for _, tc := range []struct {
		name     string
		row      planner.Row
		first    *scenario.Result
		err      error
		attempts int
	}{
		{"passed", plain, late(true), nil, 1},
		{"failed on time: TCP's doing", plain, onTime, nil, 1},
		{"failed late: measured again", plain, late(false), nil, 2},
		{"a fault drill, late", drill, late(false), nil, 1},
		{"OOM-killed, late", plain, late(false), harness.ErrOOMKilled, 1},
		{"no result", plain, nil, errors.New("docker"), 1},
	} {
		runs, agains := 0, 0
		res, _ := harness.Measure(tc.row, func() (*scenario.Result, error) {
			runs++
			if runs == 1 {
				if tc.first == nil {
					return nil, tc.err
				}
				r := *tc.first
				return &r, tc.err
			}
			return late(false), nil // late again: no third run
		}, func(string) { agains++ })
		if runs != tc.attempts || agains != tc.attempts-1 || (res != nil && res.Attempts != tc.attempts) {
			t.Errorf("%s: %d runs, %d agains, result %+v; want %d runs", tc.name, runs, agains, res, tc.attempts)
		}
	}
}
