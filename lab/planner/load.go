package planner

import (
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// LoadOf is the Load a run of sc with the resolved knobs k is paced by,
// in compose, the harness and `tcplab run` alike: the scenario's own Load,
// except that a Neutral scenario becomes Quiet when packets wait in the
// userspace delay line, whose releases a busy CPU makes late, and a bulk
// probe through the delay line makes any run Alone.
func LoadOf(sc *scenario.Scenario, k scenario.Knobs) scenario.Load {
	im := k.Impairment()
	if sc.Load != scenario.Alone && im.ProbeBulk > 0 && (im.RTT > 0 || im.Jitter > 0) {
		// Megabytes through the delay lines: their agents take the cores
		// for seconds, which no other delay line's timing survives.
		return scenario.Alone
	}
	if sc.Load == scenario.Neutral && (im.RTT > 0 || im.Jitter > 0) {
		return scenario.Quiet
	}
	return sc.Load
}

// Rank is a run's place in every queue of the lab: runs that measure
// timers (Quiet or Alone, or a job that must run alone) go first, then the
// longest expected, so the long waits on kernel timers overlap everything
// shorter and the tail is short runs.
type Rank struct {
	First  bool
	Weight time.Duration
}

// RankOf is the rank of a run of load, expected to take weight: first if
// it measures (its Load is not Neutral).
func RankOf(load scenario.Load, weight time.Duration) Rank {
	return Rank{First: load != scenario.Neutral, Weight: weight}
}

// Rank is the row's rank (RankOf).
func (r Row) Rank() Rank { return RankOf(r.Load, r.Weight) }

// Before reports whether a goes strictly before b; equal ranks keep the
// order they came in.
func (a Rank) Before(b Rank) bool {
	if a.First != b.First {
		return a.First
	}
	return a.Weight > b.Weight
}
