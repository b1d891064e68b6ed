package report

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tcplab/tcplab/lab/scenario"
)

// lossyRow is a dial-lossy row of one run with the given knob and
// observations (the SYN sysctls, durations and failures).
func lossyRow(retriesKnob, obs string) *Row {
	obs = strings.TrimSuffix(obs, "}") + `,"tcp_syn_linear_timeouts":0,"syns_dropped":0,"histogram":{}}`
	res := result("dial-lossy", scenario.Knobs{"client.tcp_syn_retries": retriesKnob}, "h", obs, pass("c"))
	return NewRow(nil, nil, nil, []*scenario.Result{res})
}

// durations repeats ms n times.
func durations(ms float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = ms + float64(i%7)
	}
	return out
}

// TestDialHistogramLeavesFailedOut: the histogram draws the completed dials
// only, all before the give-up line, and its subtitle counts the failed
// ones it leaves out, however the result lists them.
func TestDialHistogramLeavesFailedOut(t *testing.T) {
	ok := append(append(durations(0.3, 40), durations(1010, 20)...), append(durations(3020, 10), durations(7040, 5)...)...)
	failed := `[` + strings.Repeat(`{"took_ms":15020,"err":{"kind":"ETIMEDOUT"}},`, 9) + `{"took_ms":15020,"err":{"kind":"ETIMEDOUT"}}]`
	withFailed := append(append([]float64(nil), ok...), durations(15020, 10)...)
	rec, errs := FromFiles(recordedDir, []string{"dial-lossy.json"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, tc := range []struct {
		name         string
		row          *Row
		done, failed int
		giveUp       string
	}{
		{"sample", sampleRow(sampleReport(), "dial-lossy", 0), 150, 10, "gives up 31s"},
		{"recorded", rec.Rows[0], 440, 60, "gives up 7s"},
		{"failed listed apart", lossyRow("3", fmt.Sprintf(`{"tcp_syn_retries":3,"durations_ms":%s,"failed":%s}`, jsonOf(ok), failed)), 75, 10, "gives up 15s"},
		// The newcomer's chart: the failed dials among the durations too.
		{"failed among the durations", lossyRow("3", fmt.Sprintf(`{"tcp_syn_retries":3,"durations_ms":%s,"failed":%s}`, jsonOf(withFailed), failed)), 75, 10, "gives up 15s"},
		// The schedule in force is the result's, not the knob's.
		{"knob unlike the sysctl", lossyRow("3", fmt.Sprintf(`{"tcp_syn_retries":4,"durations_ms":%s,"failed":[]}`, jsonOf(append(ok, durations(15030, 3)...)))), 78, 0, "gives up 31s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _, sub := dialHistogram(tc.row)
			if p == nil {
				t.Fatal("no chart")
			}
			svg := string(p.svg(chartDialHistogram, "", sub))
			m := regexp.MustCompile(`<line x1="([\d.]+)"[^>]*class="giveup"/>`).FindStringSubmatch(svg)
			if m == nil || !strings.Contains(svg, ">"+tc.giveUp+"<") {
				t.Fatalf("no give-up line %q in:\n%s", tc.giveUp, svg)
			}
			giveUpX, _ := strconv.ParseFloat(m[1], 64)
			drawn := 0
			for _, b := range regexp.MustCompile(`<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"[^>]*class="bar"><title>(\d+) dials in ([^<]*)</title>`).FindAllStringSubmatch(svg, -1) {
				x, _ := strconv.ParseFloat(b[1], 64)
				w, _ := strconv.ParseFloat(b[2], 64)
				n, _ := strconv.Atoi(b[3])
				drawn += n
				if x+w > giveUpX {
					t.Errorf("a bar of %s dials in %s at x %.1f–%.1f, at or past the give-up line at %.1f", b[3], b[4], x, x+w, giveUpX)
				}
			}
			if drawn != tc.done {
				t.Errorf("bars of %d dials, want the %d completed", drawn, tc.done)
			}
			wantSub := fmt.Sprintf("%d dials over 1 run", tc.done)
			if tc.name == "sample" {
				wantSub = "150 dials over 2 runs"
			}
			if tc.failed > 0 {
				wantSub += fmt.Sprintf(", %d failed (not shown)", tc.failed)
			}
			if !strings.HasSuffix(sub, wantSub) {
				t.Errorf("subtitle %q, want it to end %q", sub, wantSub)
			}
		})
	}
}

// TestProgressOfOneSample: a run that took one progress sample is a line
// of text, not a chart of a dot.
func TestProgressOfOneSample(t *testing.T) {
	rep, errs := FromFiles(recordedDir, []string{"write-block-2.json", "write-block-3.json"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var kinds []string
	for _, c := range charts(rep) {
		if c.Kind == chartProgress {
			kinds = append(kinds, fmt.Sprintf("svg %t, note %q", c.SVG != "", c.Note))
		}
	}
	want := []string{
		`svg false, note "Write progress — write-block client.tcp_wmem=4096 16384 32768 server.tcp_rmem=4096 16384 16384 · one sample, no curve: 35.4 KiB taken 2.1 ms after the first Write"`,
		`svg true, note ""`, // two samples: a line
	}
	if strings.Join(kinds, "\n") != strings.Join(want, "\n") {
		t.Errorf("progress charts:\n%s\nwant\n%s", strings.Join(kinds, "\n"), strings.Join(want, "\n"))
	}
	wantSubstrings(t, render(t, HTML, rep), `<p class="chart-note" data-chart="write-progress">Write progress — write-block client.tcp_wmem=4096 16384 32768`)
}
