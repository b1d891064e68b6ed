package planner

import (
	"sort"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// Lanes is how many runs of a compose file go at once, and so how many
// containers start at once in any phase (a run's containers start one
// after another): four, as the harness's ops (lab/harness/pace.go: two per
// daemon CPU). A daemon given all ~190 at once answered Compose 1.29 too
// late (its 60 s read timeout), under a load average of 60; beside six at
// once, one of ten lab runs here failed a 100 ms bound of a run in the
// lanes.
const Lanes = 4

// QuietChains is how many chains a compose file's Quiet runs go in, side
// by side: one. The harness measures up to four at once, but holds their
// clients at a gate until all have started (lab/harness/pace.go), and its
// tests run a delay-line scenario again when the line ran late; in
// compose a chain's client starts, and the run before it exits, while the
// other chains measure, and nothing runs again. With four chains 3 of 48
// runs failed in one run of the lab here, with two 1 of 48 in one of three
// (the delay lines ran 17 to 39 ms late).
const QuietChains = 1

// After says which rows each row's run waits for (to have completed), by
// index, for runs that cannot be paced as they go (compose). First the
// Alone runs, one after another; then the Quiet runs in QuietChains
// chains side by side; then, once all of those are done, the other runs
// in Lanes chains. Chains take the runs by Rank (the longest first), each
// to the chain that is free soonest (by Row.Weight), so the longest runs
// overlap with everything shorter. A row with no entry waits for none.
func After(rows []Row) [][]int {
	after := make([][]int, len(rows))
	var alone, quiet, rest []int
	for i, r := range rows {
		switch r.Load {
		case scenario.Alone:
			alone = append(alone, i)
		case scenario.Quiet:
			quiet = append(quiet, i)
		default:
			rest = append(rest, i)
		}
	}
	var prev []int // the runs the next phase waits for
	for _, i := range alone {
		if prev != nil {
			after[i] = prev
		}
		prev = []int{i}
	}
	prev = chains(after, rows, quiet, QuietChains, prev)
	chains(after, rows, rest, Lanes, prev)
	return after
}

// chains puts the rows idx in n chains, by rank, each to the chain free
// soonest; each chain's first run waits for prev. It returns the chains'
// last runs.
func chains(after [][]int, rows []Row, idx []int, n int, prev []int) []int {
	if len(idx) == 0 {
		return prev
	}
	sort.SliceStable(idx, func(i, j int) bool { return rows[idx[i]].Rank().Before(rows[idx[j]].Rank()) })
	load := make([]time.Duration, n)
	last := make([]int, n)
	for i := range last {
		last[i] = -1
	}
	for _, i := range idx {
		l := 0
		for c := range load {
			if load[c] < load[l] {
				l = c
			}
		}
		switch {
		case last[l] >= 0:
			after[i] = []int{last[l]}
		case prev != nil:
			after[i] = prev
		}
		load[l] += rows[i].Weight
		last[l] = i
	}
	var ends []int
	for _, c := range last {
		if c >= 0 {
			ends = append(ends, c)
		}
	}
	return ends
}
