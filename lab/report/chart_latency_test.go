package report

import (
	"os"
	"strings"
	"testing"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// latencyReport holds a latency-dial sweep and a latency-bdp buffer sweep
// with figures measured on this machine (kernel 6.18, delay line).
func latencyReport() *Report {
	r := &Report{Schema: Schema, Kernel: "6.18-test"}
	for _, d := range []struct{ rtt, p50, tcpi float64 }{{0, 0.16, 0.02}, {10, 10.74, 10.27}, {50, 50.74, 50.6}, {200, 200.85, 200.45}} {
		res := result("latency-dial", nil, "h", jsonOf(scenarios.LatencyDialObs{RTTMS: d.rtt, ConnectMS: []float64{d.p50}, ConnectMSP50: d.p50, TcpiRTTMS: d.tcpi}), pass("c"))
		r.Rows = append(r.Rows, NewRow(nil, nil, scenario.Knobs{"impair.rtt": num(d.rtt) + "ms"}, []*scenario.Result{res}))
	}
	for _, b := range []struct {
		buf      int
		thr, wnd float64
	}{{16384, 0.49, 0.49}, {65536, 1.92, 1.96}, {262144, 7.81, 7.93}} {
		res := result("latency-bdp", nil, "h", jsonOf(scenarios.LatencyBDPObs{ReadBuffer: b.buf, ThroughputMBps: b.thr, WindowOverRTTMBps: b.wnd}), pass("c"))
		r.Rows = append(r.Rows, NewRow(nil, scenario.Knobs{"server.read_buffer": num(float64(b.buf))}, nil, []*scenario.Result{res}))
	}
	return r
}

func TestLatencyCharts(t *testing.T) {
	r := latencyReport()
	got := map[string]string{}
	for _, c := range charts(r) {
		got[c.Kind] = string(c.SVG)
	}
	dial, bdp := got[chartConnectRTT], got[chartBDP]
	// Four RTTs: a connect dot and a tcpi_rtt dot each, on the diagonal.
	if n := strings.Count(dial, "<circle"); n != 8 {
		t.Errorf("connect-vs-rtt: %d dots, want 8:\n%s", n, dial)
	}
	wantSubstrings(t, dial, `class="ideal"`, "+200 ms: connect p50 201 ms", "latency-dial · 4 runs at 4 RTTs")
	if n := strings.Count(bdp, "<circle"); n != 3 {
		t.Errorf("throughput-vs-window: %d dots, want 3:\n%s", n, bdp)
	}
	wantSubstrings(t, bdp, `class="ideal"`, `class="band"`, "SetReadBuffer(65536): 1.9 MB/s, window/RTT 2.0 MB/s", "64 KiB")
	// One RTT alone is no line: no chart.
	one := &Report{Rows: r.Rows[2:3]}
	for _, c := range charts(one) {
		if c.Kind == chartConnectRTT {
			t.Error("a connect-vs-rtt chart from a single RTT")
		}
	}
	if p := os.Getenv("TCPLAB_LATENCY_SVG"); p != "" {
		_ = os.WriteFile(p+"-dial.svg", []byte(dial), 0o644)
		_ = os.WriteFile(p+"-bdp.svg", []byte(bdp), 0o644)
	}
}
