package planner

import (
	"reflect"
	"testing"

	"github.com/tcplab/tcplab/lab/scenario"
)

func TestRows(t *testing.T) {
	knobs := []scenario.Knob{{Name: "a", Default: "0", Kind: scenario.Int}, {Name: "b", Default: "x", Kind: scenario.Text},
		{Name: "c", Default: "1", Kind: scenario.Int}}
	plain := &scenario.Scenario{ID: "plain", Knobs: knobs}
	cased := &scenario.Scenario{ID: "cased", Knobs: knobs, Cases: []scenario.Knobs{{}, {"a": "2"}}}
	rowsOf := func(scs []*scenario.Scenario, set scenario.Knobs, sweeps []Sweep) []Row {
		t.Helper()
		rows, err := Rows(scs, set, sweeps)
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	scs := []*scenario.Scenario{plain, cased}
	sets := func(rows []Row) (out []scenario.Knobs) {
		for _, r := range rows {
			out = append(out, r.Set)
		}
		return out
	}

	// No overrides: each scenario's cases, or one row with no knobs.
	rows := rowsOf(scs, nil, nil)
	if want := []scenario.Knobs{nil, {}, {"a": "2"}}; !reflect.DeepEqual(sets(rows), want) {
		t.Errorf("cases: sets %v, want %v", sets(rows), want)
	}
	// A set replaces the cases.
	rows = rowsOf(scs, scenario.Knobs{"a": "1"}, nil)
	if want := []scenario.Knobs{{"a": "1"}, {"a": "1"}}; !reflect.DeepEqual(sets(rows), want) {
		t.Errorf("set: sets %v, want %v", sets(rows), want)
	}
	// Sweeps: the grid on top of the set, first knob slowest.
	rows = rowsOf([]*scenario.Scenario{cased}, scenario.Knobs{"c": "0"},
		[]Sweep{{"a", []string{"1", "2"}}, {"b", []string{"x", "y"}}})
	want := []scenario.Knobs{
		{"a": "1", "b": "x", "c": "0"}, {"a": "1", "b": "y", "c": "0"},
		{"a": "2", "b": "x", "c": "0"}, {"a": "2", "b": "y", "c": "0"},
	}
	if !reflect.DeepEqual(sets(rows), want) {
		t.Errorf("sweep: sets %v, want %v", sets(rows), want)
	}
	if v := rows[1].Vary; !reflect.DeepEqual(v, scenario.Knobs{"a": "1", "b": "y"}) {
		t.Errorf("sweep: vary %v, want the combination alone", v)
	}
	// Each row carries its knobs resolved: the defaults under the set.
	if k := rows[1].Knobs; k["a"] != "1" || k["b"] != "y" || k["c"] != "0" {
		t.Errorf("sweep: resolved %v", k)
	}
	// A bad knob is refused at planning, with Resolve's one-line error.
	_, err := Rows(scs, scenario.Knobs{"a": "many"}, nil)
	_, want1 := plain.Resolve(scenario.Knobs{"a": "many"})
	if err == nil || want1 == nil || err.Error() != want1.Error() {
		t.Errorf("bad knob: %v, want %v", err, want1)
	}
}

func TestNames(t *testing.T) {
	got := Names([]string{"a", "b", "b", "c", "b"})
	want := []string{"a", "b-1", "b-2", "c", "b-3"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("names %v, want %v", got, want)
	}
}
