package report

import (
	"math"
	"testing"

	"github.com/tcplab/tcplab/lab/scenario"
)

// rowOf aggregates results whose observations are given as JSON.
func rowOf(t *testing.T, ok []bool, obs ...string) *Row {
	t.Helper()
	var rs []*scenario.Result
	for i, o := range obs {
		r := result("probe", nil, "", o)
		r.OK = ok == nil || ok[i]
		rs = append(rs, r)
	}
	return NewRow(nil, nil, nil, rs)
}

func figure(t *testing.T, row *Row, name string) Figure {
	t.Helper()
	for _, f := range row.Figures {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no figure %q in %+v", name, row.Figures)
	return Figure{}
}

func TestAggregateIdentical(t *testing.T) {
	obs := `{"succeeded_at_once":17,"next_dial":{"kind":"ETIMEDOUT","text":"i/o timeout","timeout":true,"errno":110},
		"durations_ms":[21,1014.7],"server_sysctls":{"net.core.somaxconn":"16"},"deep":{"a":{"b":1}}}`
	row := rowOf(t, nil, obs, obs, obs)
	if row.Verdict != "PASS" || row.Scenario != "probe" {
		t.Errorf("verdict %q, scenario %q", row.Verdict, row.Scenario)
	}
	var names []string
	for _, f := range row.Figures {
		names = append(names, f.Name)
	}
	// Numbers and numbers one level down; no arrays, strings, booleans or
	// deeper numbers.
	if want := []string{"next_dial.errno", "succeeded_at_once"}; len(names) != 2 || names[0] != want[0] || names[1] != want[1] {
		t.Fatalf("figures %v, want %v", names, want)
	}
	f := figure(t, row, "succeeded_at_once")
	if f.Reproducibility != Identical || f.Min != 17 || f.Median != 17 || f.Max != 17 || f.Spread != 0 || len(f.Values) != 3 {
		t.Errorf("%+v", f)
	}
}

func TestAggregateWithinTolerance(t *testing.T) {
	row := rowOf(t, nil,
		`{"bytes":100000,"took_ms":10,"count":10}`,
		`{"bytes":108000,"took_ms":55,"count":55}`,
		`{"bytes":105000,"took_ms":40,"count":40}`)
	f := figure(t, row, "bytes")
	if f.Reproducibility != WithinTolerance || f.Median != 105000 || math.Abs(f.Spread-8000.0/105000) > 1e-9 {
		t.Errorf("relative: %+v", f)
	}
	// 45 ms apart is 112 % of the median, but within the 50 ms of a duration.
	if f := figure(t, row, "took_ms"); f.Reproducibility != WithinTolerance {
		t.Errorf("absolute ms: %+v", f)
	}
	// The same numbers without the _ms suffix are not reproducible.
	if f := figure(t, row, "count"); f.Reproducibility != NotReproducible || math.Abs(f.Spread-45.0/40) > 1e-9 {
		t.Errorf("count: %+v", f)
	}
}

func TestAggregateNotReproducible(t *testing.T) {
	row := rowOf(t, []bool{true, false, true, true},
		`{"failed_after_ms":15053,"zero":0,"nested":{"x_ms":1000}}`,
		`{"failed_after_ms":19104,"zero":-1,"nested":{"x_ms":1100}}`,
		`{"failed_after_ms":15071,"zero":0,"nested":{"x_ms":1300}}`,
		`{"failed_after_ms":15090,"zero":1}`)
	if row.Verdict != "FAIL" {
		t.Errorf("verdict %q with a failed run", row.Verdict)
	}
	f := figure(t, row, "failed_after_ms")
	if f.Reproducibility != NotReproducible || f.Median != (15071+15090)/2.0 || f.Min != 15053 || f.Max != 19104 {
		t.Errorf("%+v", f)
	}
	if f := figure(t, row, "nested.x_ms"); f.Reproducibility != NotReproducible || len(f.Values) != 3 || math.Abs(f.Spread-0.3/1.1) > 1e-9 {
		t.Errorf("nested: %+v", f)
	}
	// A zero median takes the larger magnitude as the scale: no Inf in JSON.
	if f := figure(t, row, "zero"); f.Reproducibility != NotReproducible || f.Spread != 2 {
		t.Errorf("zero median: %+v", f)
	}
}

func TestAggregateNoResults(t *testing.T) {
	row := NewRow(&scenario.Scenario{ID: "x", Section: "s", Article: "a"}, nil, nil, nil)
	if row.Verdict != "FAIL" || len(row.Figures) != 0 || row.Scenario != "x" || row.Article != "a" {
		t.Errorf("%+v", row)
	}
}
