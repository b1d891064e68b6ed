// Package planner is the one place that says what a run of the lab
// covers and in what order its runs go, before anything starts.
//
// Plan: the rows (each scenario's cases, the knobs a user set, or a
// sweep's grid) and their names. Each row's knobs are resolved once, here
// (Resolve, Rows: Scenario.Resolve): a bad knob is refused at planning in
// Resolve's one line, and the row carries its resolved knobs, its load
// class (LoadOf) and its expected wall time for everything downstream:
// topology.PlanRow, compose, `tcplab run` and its kernels runner, and the
// harness (harness.Row, Lab.RunRow). The compose files and `tcplab run`
// plan with Rows, so that the two run the same rows and write the same
// results directory (NN-<name>.json).
//
// Rank and pace: LoadOf classifies a run (Neutral, Quiet, Alone) for every
// scheduler, and Rank orders runs alike everywhere (those that measure
// timers first, then the longest expected). After chains compose's runs:
// the Alone ones one after another, then the Quiet ones in QuietChains
// chains, then the rest in Lanes chains. Order and Schedule run `tcplab
// run`'s jobs, at most so many at once, exclusive ones alone.
//
// The harness's runtime pacer (lab/harness/pace.go), which admits runs as
// they go, stays in the harness: it is bound up with a run's time budget
// and the lock that keeps other processes' container ops away from a
// measurement. It takes each run's class and weight from its row
// (Row.Load, Row.Weight) and ranks its waiters with Rank.
package planner

import (
	"fmt"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// Sweep is one swept knob and its values, in the order given.
type Sweep struct {
	Knob   string
	Values []string
}

// Row is one scenario with one set of overrides: one row of the report,
// resolved.
type Row struct {
	Scenario *scenario.Scenario
	// Set is the row's overrides: a case's, the user's, or the user's with
	// a sweep's combination on top. The roles get these on their command
	// line and resolve the same defaults themselves.
	Set scenario.Knobs
	// Vary is the sweep's combination alone; nil without sweeps.
	Vary scenario.Knobs
	// Knobs is Set resolved (Scenario.Resolve): the defaults, the pinned
	// sysctls and Set, validated.
	Knobs scenario.Knobs
	// Load is how the row's runs are paced (LoadOf).
	Load scenario.Load
	// Weight is a run's expected wall time (Scenario.Expected).
	Weight time.Duration
}

// Resolve plans one row: sc with the overrides set, resolved. Its error is
// Scenario.Resolve's, a one-line message naming the bad knob.
func Resolve(sc *scenario.Scenario, set scenario.Knobs) (Row, error) {
	k, err := sc.Resolve(set)
	if err != nil {
		return Row{}, err
	}
	return Row{Scenario: sc, Set: set, Knobs: k, Load: LoadOf(sc, k), Weight: sc.Expected(k)}, nil
}

// Rows expands scs in order and resolves every row. With sweeps, each
// scenario gets one row per combination of the swept values (the first
// knob slowest) on top of set; else with no set, one row per case, or one
// row with set for a scenario without cases; else one row with set. The
// first row whose knobs do not resolve is the error.
func Rows(scs []*scenario.Scenario, set scenario.Knobs, sweeps []Sweep) ([]Row, error) {
	var rows []Row
	add := func(sc *scenario.Scenario, set, vary scenario.Knobs) error {
		r, err := Resolve(sc, set)
		if err != nil {
			return err
		}
		r.Vary = vary
		rows = append(rows, r)
		return nil
	}
	for _, sc := range scs {
		var err error
		switch {
		case len(sweeps) > 0:
			for _, combo := range product(sweeps) {
				if err = add(sc, merge(set, combo), combo); err != nil {
					break
				}
			}
		case len(set) == 0 && len(sc.Cases) > 0:
			for _, c := range sc.Cases {
				if err = add(sc, c, nil); err != nil {
					break
				}
			}
		default:
			err = add(sc, set, nil)
		}
		if err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// Names names a plan's rows from their scenarios' ids, in order: the id,
// and where the scenario has several rows, "-" and the row's number among
// them (from 1), as "backlog-full-2".
func Names(ids []string) []string {
	rows := map[string]int{}
	for _, id := range ids {
		rows[id]++
	}
	seen := map[string]int{}
	names := make([]string, len(ids))
	for i, id := range ids {
		seen[id]++
		names[i] = id
		if rows[id] > 1 {
			names[i] = fmt.Sprintf("%s-%d", id, seen[id])
		}
	}
	return names
}

// product is the cartesian product of the swept values, first knob slowest.
func product(sweeps []Sweep) []scenario.Knobs {
	out := []scenario.Knobs{{}}
	for _, s := range sweeps {
		var next []scenario.Knobs
		for _, base := range out {
			for _, val := range s.Values {
				next = append(next, merge(base, scenario.Knobs{s.Knob: val}))
			}
		}
		out = next
	}
	return out
}

// merge is a new set: a's knobs, overridden by b's.
func merge(a, b scenario.Knobs) scenario.Knobs {
	out := scenario.Knobs{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
