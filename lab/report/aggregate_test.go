package report

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// rowOf aggregates results of scenario scn whose observations are obs
// (values of the scenario's type, or JSON text).
func rowOf(t *testing.T, ok []bool, scn string, obs ...any) *Row {
	t.Helper()
	var rs []*scenario.Result
	for i, o := range obs {
		text, isText := o.(string)
		if !isText {
			text = jsonOf(o)
		}
		r := result(scn, nil, "", text)
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

func names(row *Row) []string {
	var out []string
	for _, f := range row.Figures {
		out = append(out, f.Name)
	}
	return out
}

func backlogFull(succeeded int, slowestMS float64, queue, overflows int64) *scenarios.BacklogFullObs {
	return &scenarios.BacklogFullObs{SucceededAtOnce: succeeded, SlowestSuccessMS: slowestMS, AcceptQueue: queue,
		ListenerBacklog: 16, ListenOverflows: overflows, ListenDrops: 1,
		NextDial:      scenario.ErrInfo{Kind: "ETIMEDOUT", Text: "i/o timeout", Timeout: true},
		ServerSysctls: map[string]string{"net.core.somaxconn": "16"}}
}

func TestAggregateIdentical(t *testing.T) {
	o := backlogFull(17, 3.2, 17, 1)
	row := rowOf(t, nil, "backlog-full", o, o, o)
	if row.Verdict != "PASS" || row.Scenario != "backlog-full" {
		t.Errorf("verdict %q, scenario %q, %v", row.Verdict, row.Scenario, row.ObservationErrors)
	}
	// Numbers only: the error and the sysctl strings are not figures.
	want := []string{"accept_queue", "listen_drops", "listen_overflows", "listener_backlog", "slowest_success_ms", "succeeded_at_once"}
	if got := names(row); !slices.Equal(got, want) {
		t.Fatalf("figures %v, want %v", got, want)
	}
	f := figure(t, row, "succeeded_at_once")
	if f.Reproducibility != Identical || f.Min != 17 || f.Median != 17 || f.Max != 17 || f.Spread != 0 || len(f.Values) != 3 {
		t.Errorf("%+v", f)
	}
}

// Numbers one level down in structs and maps are figures; lists,
// booleans and deeper numbers are not.
func TestAggregateNestedFigures(t *testing.T) {
	ka := &scenarios.OptKeepAliveObs{ReadFailedAfterMS: 4010, PacketsDropped: 4}
	ka.KeepAliveSet.IdleS = 1
	lossy := &scenarios.DialLossyObs{Histogram: map[string]int{"0s": 40, "failed": 2}, DurationsMS: []float64{1, 2}}
	for _, tc := range []struct {
		scn  string
		obs  any
		want []string
	}{
		{"opt-keepalive", ka, []string{"go_default_accepted.count", "go_default_accepted.idle_s",
			"go_default_accepted.interval_s", "go_default_dialed.count", "go_default_dialed.idle_s", "go_default_dialed.interval_s",
			"impaired_after_ms", "keepalive_set.count", "keepalive_set.idle_s", "keepalive_set.interval_s",
			"packets_dropped", "read_failed_after_ms"}},
		{"dial-lossy", lossy, []string{"histogram.0s", "histogram.failed", "syns_dropped", "tcp_syn_linear_timeouts", "tcp_syn_retries"}},
	} {
		row := rowOf(t, nil, tc.scn, tc.obs)
		if got := names(row); !slices.Equal(got, tc.want) {
			t.Errorf("%s: figures %v, want %v", tc.scn, got, tc.want)
		}
	}
}

func TestAggregateWithinTolerance(t *testing.T) {
	row := rowOf(t, nil, "backlog-full",
		backlogFull(17, 10, 100000, 10),
		backlogFull(17, 55, 108000, 55),
		backlogFull(17, 40, 105000, 40))
	f := figure(t, row, "accept_queue")
	if f.Reproducibility != WithinTolerance || f.Median != 105000 || math.Abs(f.Spread-8000.0/105000) > 1e-9 {
		t.Errorf("relative: %+v", f)
	}
	// 45 ms apart is 112 % of the median, but within the 50 ms of a duration.
	if f := figure(t, row, "slowest_success_ms"); f.Reproducibility != WithinTolerance {
		t.Errorf("absolute ms: %+v", f)
	}
	// The same numbers without the _ms suffix are not reproducible.
	if f := figure(t, row, "listen_overflows"); f.Reproducibility != NotReproducible || math.Abs(f.Spread-45.0/40) > 1e-9 {
		t.Errorf("count: %+v", f)
	}
}

func TestAggregateNotReproducible(t *testing.T) {
	syn := func(ms float64, linear int) *scenarios.BacklogSynTimeoutObs {
		return &scenarios.BacklogSynTimeoutObs{FailedAfterMS: ms, ExpectedMS: 15000, TCPSynRetries: 3, TCPSynLinearTimeouts: linear,
			Error: scenario.ErrInfo{Kind: "ETIMEDOUT"}}
	}
	row := rowOf(t, []bool{true, false, true, true}, "backlog-syn-timeout",
		syn(15053, 0), syn(19104, -1), syn(15071, 0), syn(15090, 1))
	if row.Verdict != "FAIL" {
		t.Errorf("verdict %q with a failed run", row.Verdict)
	}
	f := figure(t, row, "failed_after_ms")
	if f.Reproducibility != NotReproducible || f.Median != (15071+15090)/2.0 || f.Min != 15053 || f.Max != 19104 {
		t.Errorf("%+v", f)
	}
	// A zero median takes the larger magnitude as the scale: no Inf in JSON.
	if f := figure(t, row, "tcp_syn_linear_timeouts"); f.Reproducibility != NotReproducible || f.Spread != 2 {
		t.Errorf("zero median: %+v", f)
	}
	// A map key absent from one result: a figure of the others.
	hist := func(n int) *scenarios.DialLossyObs {
		h := map[string]int{"0s": 40}
		if n > 0 {
			h["7s"] = n
		}
		return &scenarios.DialLossyObs{Histogram: h}
	}
	row = rowOf(t, nil, "dial-lossy", hist(1000), hist(1100), hist(1300), hist(0))
	if f := figure(t, row, "histogram.7s"); f.Reproducibility != NotReproducible || len(f.Values) != 3 || math.Abs(f.Spread-0.3/1.1) > 1e-9 {
		t.Errorf("nested: %+v", f)
	}
}

// Observations that do not read as the scenario's type fail the row and
// say why, rather than giving zeros.
func TestAggregateBadObservations(t *testing.T) {
	for _, tc := range []struct {
		name, scn, obs, want string
	}{
		{"missing field", "dial-refused", `{"error":{"kind":"ECONNREFUSED"},"refused_us":[150]}`, "observations.refused is missing"},
		{"unknown field", "dial-refused", `{"error":{"kind":"none"},"refused":5,"refused_us":[150],"slowest":2}`, `unknown field "slowest"`},
		{"wrong type", "dial-refused", `{"error":{"kind":"none"},"refused":"5","refused_us":[150]}`, "cannot unmarshal string"},
		{"unknown scenario", "probe", `{"n":1}`, `unknown scenario "probe"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			row := rowOf(t, nil, tc.scn, tc.obs)
			if row.Verdict != "FAIL" || len(row.ObservationErrors) != 1 || !strings.Contains(row.ObservationErrors[0], tc.want) {
				t.Errorf("verdict %q, errors %q, want one with %q", row.Verdict, row.ObservationErrors, tc.want)
			}
		})
	}
}

func TestAggregateNoResults(t *testing.T) {
	row := NewRow(&scenario.Scenario{ID: "x", Section: "s", Article: "a"}, nil, nil, nil)
	if row.Verdict != "FAIL" || len(row.Figures) != 0 || row.Scenario != "x" || row.Article != "a" {
		t.Errorf("%+v", row)
	}
}

// A row the lab could not run is NOT RUN, not FAIL, unless something that
// did run failed: the two are told apart in the report and the exit code.
func TestAggregateNotRun(t *testing.T) {
	notRun := &scenario.Result{Scenario: "backlog-full", CouldNotRun: "lab could not run: starting server-agent failed after 1m0s: context deadline exceeded"}
	for _, tc := range []struct {
		name string
		ok   []bool
		want string
	}{
		{"only not run", nil, NotRun},
		{"not run beside a pass", []bool{true}, NotRun},
		{"not run beside a failure", []bool{false}, "FAIL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := []*scenario.Result{notRun}
			for _, ok := range tc.ok {
				r := result("backlog-full", nil, "", jsonOf(backlogFull(17, 1, 17, 3)))
				r.OK = ok
				rs = append(rs, r)
			}
			row := NewRow(nil, nil, nil, rs)
			if row.Verdict != tc.want {
				t.Fatalf("verdict %q, want %q", row.Verdict, tc.want)
			}
			rep := &Report{Rows: []*Row{row}}
			if _, failed := rep.Counts(); failed != 1 {
				t.Fatalf("counted %d failed; a row not run counts among the failed", failed)
			}
			if got, want := rep.NotRunCount(), map[bool]int{true: 1, false: 0}[tc.want == NotRun]; got != want {
				t.Fatalf("NotRunCount %d, want %d", got, want)
			}
			var b strings.Builder
			if err := Terminal(&b, rep); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), "could not run") {
				t.Fatalf("the table does not say why:\n%s", b.String())
			}
		})
	}
}
