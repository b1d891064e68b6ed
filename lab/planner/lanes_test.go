package planner

import (
	"reflect"
	"testing"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// After chains the Alone rows one after another, then the Quiet ones in
// QuietChains chains, then the rest in Lanes chains, longest first, each
// to the chain free soonest.
func TestAfter(t *testing.T) {
	row := func(l scenario.Load, s int) Row { return Row{Load: l, Weight: time.Duration(s) * time.Second} }
	rows := []Row{
		row(scenario.Neutral, 1), // 0
		row(scenario.Alone, 5),   // 1
		row(scenario.Quiet, 2),   // 2
		row(scenario.Neutral, 9), // 3
		row(scenario.Alone, 1),   // 4
		row(scenario.Quiet, 3),   // 5
		row(scenario.Neutral, 4), // 6
		row(scenario.Neutral, 3), // 7
		row(scenario.Neutral, 2), // 8
		row(scenario.Neutral, 2), // 9
	}
	want := [][]int{
		0: {7}, // the shortest, to the lane free soonest (3 s, after 7)
		1: nil, // the first Alone run waits for none
		2: {5}, // the Quiet chain, longest first
		3: {2}, // each lane's head waits for the Quiet chain's end
		4: {1},
		5: {4},
		6: {2},
		7: {2},
		8: {2},
		9: {8},
	}
	if QuietChains != 1 || Lanes != 4 {
		t.Skip("the expectation assumes one Quiet chain and four lanes")
	}
	if got := After(rows); !reflect.DeepEqual(got, want) {
		t.Errorf("After: %v, want %v", got, want)
	}
}
