package planner

import (
	"testing"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

func TestLoadOf(t *testing.T) {
	for _, tc := range []struct {
		own  scenario.Load
		set  scenario.Knobs
		want scenario.Load
	}{
		{scenario.Neutral, nil, scenario.Neutral},
		{scenario.Neutral, scenario.Knobs{"impair.rtt": "20ms"}, scenario.Quiet},
		{scenario.Neutral, scenario.Knobs{"impair.jitter": "5ms", "impair.rtt": "20ms"}, scenario.Quiet},
		{scenario.Neutral, scenario.Knobs{"impair.probe_bulk": "100000"}, scenario.Neutral},
		{scenario.Neutral, scenario.Knobs{"impair.rtt": "20ms", "impair.probe_bulk": "100000"}, scenario.Alone},
		{scenario.Quiet, nil, scenario.Quiet},
		{scenario.Quiet, scenario.Knobs{"impair.rtt": "20ms", "impair.probe_bulk": "100000"}, scenario.Alone},
		{scenario.Alone, nil, scenario.Alone},
	} {
		sc := &scenario.Scenario{ID: "s", Load: tc.own}
		r, err := Resolve(sc, tc.set)
		if err != nil {
			t.Fatal(err)
		}
		if r.Load != tc.want || LoadOf(sc, r.Knobs) != tc.want {
			t.Errorf("%v with %v: %v, want %v", tc.own, tc.set, r.Load, tc.want)
		}
	}
}

func TestRank(t *testing.T) {
	long, short := RankOf(scenario.Neutral, 2*time.Second), RankOf(scenario.Neutral, time.Second)
	quiet := RankOf(scenario.Quiet, time.Millisecond)
	if !quiet.Before(long) || !long.Before(short) || short.Before(long) || long.Before(long) {
		t.Errorf("want measuring runs first, then the longest, equal ranks in order")
	}
}
