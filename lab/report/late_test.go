package report_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/report"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// lossResult is a loss-retransmit result at loss 0.05 as a compose client
// writes it (every knob resolved, measured once): the check the CI's
// stall failed, held or not, and how late the runner was.
func lossResult(t *testing.T, ok bool, set scenario.Knobs, lineLateUS int64, timersLateMS float64) *scenario.Result {
	t.Helper()
	sc, err := scenarios.Lookup("loss-retransmit")
	if err != nil {
		t.Fatal(err)
	}
	over := scenario.Knobs{"impair.loss": "0.05"}
	for k, v := range set {
		over[k] = v
	}
	knobs, err := sc.Resolve(over)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := json.Marshal(scenarios.LossRetransmitObs{RTTMS: 20, Loss: 0.05, Requests: 1000, ConnectMS: 20.6,
		LatencyMS: []float64{20.4, 120.7}, P50MS: 20.4, P99MS: 120.7, MaxMS: 120.7, Stalled: 1, MinStallMS: 100.71})
	if err != nil {
		t.Fatal(err)
	}
	line := &impair.LineCounters{MaxLateUS: lineLateUS, P99LateUS: 400, MaxReadLagUS: 900}
	return &scenario.Result{
		Schema: scenario.Schema, Scenario: "loss-retransmit", Knobs: knobs, Mechanism: impair.DelayLine,
		Network:      &impair.Network{Mechanism: impair.DelayLine, Client: &impair.Counters{DelayLine: line}},
		Started:      time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC),
		Headline:     "+20ms RTT, loss 0.05",
		Observations: obs,
		Checks:       []scenario.Check{{Name: "each stall ≥ SRTT+200ms", OK: ok, Detail: "shortest 100.71 ms"}},
		OK:           ok,
		TimersLateMS: map[string]float64{"client": timersLateMS, "server": 0.4},
	}
}

// A failed row is LATE, not FAIL, only when the runner was late in a run
// measured once that was neither a fault drill nor OOM-killed; LATE is
// not counted among the failed, and says why and how to measure again.
func TestLateVerdict(t *testing.T) {
	const lineLate, onTime = 100100, 900 // µs: the CI's 100.1 ms, and well under impair.LateBound
	for _, tc := range []struct {
		name    string
		res     func(*testing.T) *scenario.Result
		verdict string
		late    string // in Row.Late
	}{
		{"failed, the delay line late", func(t *testing.T) *scenario.Result { return lossResult(t, false, nil, lineLate, 0.5) },
			report.Late, "the delay line ran late (client: release late p99 0.4 ms, max 100.1 ms, read lag max 0.9 ms)"},
		{"failed, the roles' timers late", func(t *testing.T) *scenario.Result { return lossResult(t, false, nil, onTime, 28) },
			report.Late, "client's timers fired 28.0 ms late"},
		{"failed late, a single attempt counted", func(t *testing.T) *scenario.Result {
			r := lossResult(t, false, nil, lineLate, 0.5)
			r.Attempts = 1
			return r
		}, report.Late, "the delay line ran late"},
		{"failed late, a fault drill (impair.crash)", func(t *testing.T) *scenario.Result {
			return lossResult(t, false, scenario.Knobs{"impair.crash": "kill"}, lineLate, 28)
		}, "FAIL", ""},
		{"failed late, OOM-killed", func(t *testing.T) *scenario.Result {
			r := lossResult(t, false, nil, lineLate, 28)
			r.Error = "server " + scenario.OOMKilled
			return r
		}, "FAIL", ""},
		{"failed late, measured twice", func(t *testing.T) *scenario.Result {
			r := lossResult(t, false, nil, lineLate, 28)
			r.Attempts = 2
			return r
		}, "FAIL", ""},
		{"failed, nothing late", func(t *testing.T) *scenario.Result { return lossResult(t, false, nil, onTime, 0.5) }, "FAIL", ""},
		{"passed, late", func(t *testing.T) *scenario.Result { return lossResult(t, true, nil, lineLate, 28) }, "PASS", ""},
		{"passed", func(t *testing.T) *scenario.Result { return lossResult(t, true, nil, onTime, 0.5) }, "PASS", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			row := report.NewRow(nil, nil, nil, []*scenario.Result{tc.res(t)})
			if row.Verdict != tc.verdict {
				t.Fatalf("verdict %q, want %q (late %q, errors %q)", row.Verdict, tc.verdict, row.Late, row.ObservationErrors)
			}
			if !strings.Contains(row.Late, tc.late) || (tc.late == "") != (row.Late == "") {
				t.Errorf("late %q, want %q", row.Late, tc.late)
			}
			wantAgain := map[bool]string{true: "tcplab run loss-retransmit --set impair.loss=0.05"}[tc.verdict == report.Late]
			if row.Again != wantAgain {
				t.Errorf("again %q, want %q", row.Again, wantAgain)
			}
			rep := &report.Report{Rows: []*report.Row{row}}
			passed, failed := rep.Counts()
			want := map[string][3]int{"PASS": {1, 0, 0}, "FAIL": {0, 1, 0}, report.Late: {0, 0, 1}}[tc.verdict]
			if got := [3]int{passed, failed, rep.LateCount()}; got != want {
				t.Errorf("passed, failed, late %v; want %v", got, want)
			}
		})
	}
}

// A row with a late failure beside an on-time one is judged FAIL: the
// on-time failure is TCP's.
func TestLateBesideFailure(t *testing.T) {
	row := report.NewRow(nil, nil, nil, []*scenario.Result{
		lossResult(t, false, nil, 100100, 28), lossResult(t, false, nil, 900, 0.5)})
	if row.Verdict != "FAIL" || row.Late != "" {
		t.Fatalf("verdict %q, late %q; want FAIL", row.Verdict, row.Late)
	}
}

// Every rendering tells a LATE row apart: its verdict, why, the command
// that measures it again, and a closing line that counts it as late.
func TestLateRendered(t *testing.T) {
	set := scenario.Knobs{"impair.loss": "0.05"} // the row's knobs, as FromFiles finds them
	rep := &report.Report{Schema: report.Schema, Rows: []*report.Row{
		report.NewRow(nil, set, nil, []*scenario.Result{lossResult(t, false, nil, 100100, 0.5)}),
		report.NewRow(nil, set, nil, []*scenario.Result{lossResult(t, true, nil, 900, 0.5)}),
	}}
	again := "tcplab run loss-retransmit --set impair.loss=0.05"
	for _, tc := range []struct {
		name   string
		render func(*strings.Builder, *report.Report) error
		want   []string
	}{
		{"terminal", func(b *strings.Builder, r *report.Report) error { return report.Terminal(b, r) },
			[]string{"LATE  ", "⧗ loss-retransmit [impair.loss=0.05]: not judged, the runner was late (the delay line ran late", again,
				"failed while late: each stall ≥ SRTT+200ms: shortest 100.71 ms", "1 passed, 0 failed, 1 late (not judged)\n"}},
		{"markdown", func(b *strings.Builder, r *report.Report) error { return report.Markdown(b, r) },
			[]string{"| ⏳ LATE |", "### Not judged: the runner was late", again, "1 passed, 0 failed, 1 late"}},
		{"html", func(b *strings.Builder, r *report.Report) error { return report.HTML(b, r) },
			[]string{`<tr class="late"><td class="verdict">LATE</td>`, "Not judged: the runner was late", again}},
		{"json", func(b *strings.Builder, r *report.Report) error { return report.JSON(b, r) },
			[]string{`"verdict": "LATE"`, `"late": "the delay line ran late`, `"again": "` + again + `"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := tc.render(&b, rep); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("no %q in:\n%s", w, b.String())
				}
			}
			if strings.Contains(b.String(), "✗") || strings.Contains(b.String(), `class="fail"`) || strings.Contains(b.String(), "❌") {
				t.Errorf("a LATE row shown as failed:\n%s", b.String())
			}
		})
	}
	// A knob value with spaces is quoted for the shell that runs Again.
	late := report.NewRow(nil, nil, nil, []*scenario.Result{lossResult(t, false, scenario.Knobs{"client.tcp_wmem": "4096 16384 32768"}, 100100, 0.5)})
	if want := "tcplab run loss-retransmit --set 'client.tcp_wmem=4096 16384 32768' --set impair.loss=0.05"; late.Again != want {
		t.Errorf("again %q, want %q", late.Again, want)
	}
}

// Side by side, a LATE row differs from no verdict, and its checks and
// figures (measured while the runner was late) are not compared; the same
// row FAIL on time is a difference.
func TestLateMerged(t *testing.T) {
	set := scenario.Knobs{"impair.loss": "0.05"}
	passed := lossResult(t, true, nil, 900, 0.5)
	for _, tc := range []struct {
		name  string
		other *scenario.Result
		flags bool
	}{
		{"LATE beside PASS", lossResult(t, false, nil, 100100, 0.5), false},
		{"FAIL beside PASS", lossResult(t, false, nil, 900, 0.5), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o scenarios.LossRetransmitObs
			if err := json.Unmarshal(tc.other.Observations, &o); err != nil {
				t.Fatal(err)
			}
			o.MinStallMS, o.P99MS = 3, 400 // figures far from the other set's
			tc.other.Observations, _ = json.Marshal(o)
			sets := []*report.Set{
				{Label: "a", Report: &report.Report{Rows: []*report.Row{report.NewRow(nil, set, nil, []*scenario.Result{passed})}}},
				{Label: "b", Report: &report.Report{Rows: []*report.Row{report.NewRow(nil, set, nil, []*scenario.Result{tc.other})}}},
			}
			m := report.Merge(sets)
			if (m.Flags > 0) != tc.flags {
				t.Errorf("%d flags, want any: %v", m.Flags, tc.flags)
			}
			var b strings.Builder
			if err := report.MergedTerminal(&b, m); err != nil {
				t.Fatal(err)
			}
			if late := strings.Contains(b.String(), "not judged in b"); late == tc.flags {
				t.Errorf("says not judged: %v, want %v:\n%s", late, !tc.flags, b.String())
			}
		})
	}
}
