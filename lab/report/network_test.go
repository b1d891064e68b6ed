package report

import (
	"strings"
	"testing"

	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/scenario"
)

// An impaired row names its mechanism and the RTT the kernel measured in
// every table; a row without impair.* knobs says nothing of the kind.
func TestNetworkBesideImpairedRows(t *testing.T) {
	res := func(tcpi float64) *scenario.Result {
		return &scenario.Result{Scenario: "latency-dial", OK: true, Mechanism: "delayline", Headline: "h",
			Observations: []byte(`{}`), Checks: []scenario.Check{{Name: "c", OK: true}},
			Network: &impair.Network{Mechanism: "delayline", RTTMS: 50, Loss: 0.01, TcpiRTTMS: tcpi}}
	}
	plain := &scenario.Result{Scenario: "read-partial", OK: true, Mechanism: "none", Headline: "p",
		Observations: []byte(`{}`), Checks: []scenario.Check{{Name: "c", OK: true}}}
	r := &Report{Kernel: "k", Rows: []*Row{
		{Scenario: "latency-dial", Set: scenario.Knobs{"impair.rtt": "50ms"}, Results: []*scenario.Result{res(50.41), res(51.2)}, Verdict: "PASS"},
		{Scenario: "read-partial", Results: []*scenario.Result{plain}, Verdict: "PASS"},
	}}
	want := "delayline +50ms loss 0.01: tcpi_rtt 50.4–51.2 ms"
	for name, fn := range map[string]func() string{
		"terminal": func() string { return render(t, Terminal, r) },
		"markdown": func() string { return render(t, Markdown, r) },
		"html":     func() string { return render(t, HTML, r) },
	} {
		out := fn()
		if name == "html" {
			out = strings.ReplaceAll(out, "&#43;", "+") // html/template escapes '+'
		}
		wantSubstrings(t, out, want)
		if got := networkText(r.Rows[1]); got != "" {
			t.Errorf("%s: an unimpaired row shows %q", name, got)
		}
	}
	m := &Merged{Sets: []*Set{{Label: "a"}}, Rows: []*MergedRow{{Scenario: "latency-dial", Verdicts: []string{"PASS"}}}}
	mergeRow(m.Rows[0], []*Row{r.Rows[0]})
	if got := mergedLines(m, false)[0].Cells[0]; got != "PASS ["+want+"]" {
		t.Errorf("merged cell %q", got)
	}
}
