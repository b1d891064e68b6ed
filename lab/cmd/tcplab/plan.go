//go:build !container

package main

import (
	"github.com/tcplab/tcplab/lab/planner"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// plan expands scenarios × (cases | sweeps) and resolves every row once
// (planner.Rows), so bad input fails before any container starts and the
// runs use the rows' resolved knobs, load and weight.
func plan(f *runFlags) ([]planner.Row, error) {
	var scs []*scenario.Scenario
	if len(f.ids) == 0 {
		scs = scenarios.All()
	}
	for _, id := range f.ids {
		sc, err := scenarios.Lookup(id)
		if err != nil {
			return nil, err
		}
		scs = append(scs, sc)
	}
	return planner.Rows(scs, f.set, f.vary)
}
