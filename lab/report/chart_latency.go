package report

import (
	"fmt"
	"math"
	"slices"

	"github.com/tcplab/tcplab/lab/scenarios"
)

// Latency charts (docs/scenarios.md §6): connect time against the added RTT
// (latency-dial), throughput against window / RTT (latency-bdp). Each
// draws the line the kernel should follow, so a point off it stands out.

// connectRTTChart: each latency-dial run's connect p50 and tcpi_rtt at its
// asked RTT, against the line connect = RTT. Needs two RTTs or more.
func connectRTTChart(rows []*Row) (p *plot, title, subtitle string) {
	type pt struct{ rtt, connect, tcpi float64 }
	var pts []pt
	runs := 0
	for _, row := range rows {
		if row.Scenario != "latency-dial" {
			return nil, "", ""
		}
		for _, res := range row.Results {
			if res == nil {
				continue
			}
			o, err := decode[scenarios.LatencyDialObs](res)
			if err != nil || len(o.ConnectMS) == 0 {
				continue
			}
			pts = append(pts, pt{o.RTTMS, o.ConnectMSP50, o.TcpiRTTMS})
			runs++
		}
	}
	rtts := map[float64]bool{}
	top := 0.0
	for _, q := range pts {
		rtts[q.rtt] = true
		top = math.Max(top, math.Max(q.rtt, math.Max(q.connect, q.tcpi)))
	}
	if len(rtts) < 2 {
		return nil, "", ""
	}
	top = niceMax(top * 1.05)
	p = newPlot(0, top, 0, top)
	p.xLabel, p.yLabel = "added RTT, impair.rtt (ms)", "ms"
	p.axes()
	p.line(p.X(0), p.Y(0), p.X(top), p.Y(top), "ideal")
	p.text(p.X(top)-4, p.Y(top)+14, "end", "marker", "connect = RTT")
	for _, q := range pts {
		p.circle(p.X(q.rtt), p.Y(q.connect), 4.5, "dot s0", fmt.Sprintf("+%s ms: connect p50 %s ms", num(q.rtt), num(q.connect)))
		p.circle(p.X(q.rtt), p.Y(q.tcpi), 3, "dot s1", fmt.Sprintf("+%s ms: tcpi_rtt %s ms", num(q.rtt), num(q.tcpi)))
	}
	p.text(p.left+12, p.top+14, "start", "legend s0", "● connect p50")
	p.text(p.left+12, p.top+28, "start", "legend s1", "● tcpi_rtt (kernel)")
	return p, "Connect time against the added RTT", fmt.Sprintf("latency-dial · %s at %d RTTs", plural(runs, "run"), len(rtts))
}

// bdpChart: each latency-bdp run's throughput against its window / RTT
// (tcpi_snd_wnd / tcpi_rtt), on log axes, with the line throughput =
// window / RTT and the band the scenario allows (×0.80 … ×1.03).
func bdpChart(rows []*Row) (p *plot, title, subtitle string) {
	type pt struct {
		x, y float64
		buf  int
	}
	var pts []pt
	for _, row := range rows {
		if row.Scenario != "latency-bdp" {
			return nil, "", ""
		}
		for _, res := range row.Results {
			if res == nil {
				continue
			}
			o, err := decode[scenarios.LatencyBDPObs](res)
			if err != nil || o.WindowOverRTTMBps <= 0 || o.ThroughputMBps <= 0 {
				continue
			}
			pts = append(pts, pt{o.WindowOverRTTMBps, o.ThroughputMBps, o.ReadBuffer})
		}
	}
	if len(pts) == 0 {
		return nil, "", ""
	}
	lo, hi := math.Inf(1), 0.0
	for _, q := range pts {
		lo, hi = math.Min(lo, math.Min(q.x, q.y)), math.Max(hi, math.Max(q.x, q.y))
	}
	l0, l1 := math.Floor(math.Log10(lo/1.3)), math.Ceil(math.Log10(hi*1.3))
	p = newPlot(l0, l1, l0, l1)
	var ts []float64
	for e := l0; e <= l1; e++ {
		for _, m := range []float64{1, 2, 5} {
			if v := e + math.Log10(m); v <= l1 {
				ts = append(ts, v)
			}
		}
	}
	p.xTicks, p.yTicks = ts, ts
	pow := func(v float64) string { return num(math.Pow(10, v)) }
	p.xFormat, p.yFormat = pow, pow
	p.xLabel, p.yLabel = "window / RTT: tcpi_snd_wnd / tcpi_rtt (MB/s, log)", "throughput (MB/s, log)"
	p.axes()
	for _, f := range []float64{1, 1.03, 0.8} {
		class := "ideal"
		if f != 1 {
			class = "band"
		}
		// y = x + log10(f), clipped to the square.
		d := math.Log10(f)
		x0, x1 := math.Max(l0, l0-d), math.Min(l1, l1-d)
		p.line(p.X(x0), p.Y(x0+d), p.X(x1), p.Y(x1+d), class)
	}
	// The dots first, then the labels where they cover none of them: the
	// line's in the top-left corner, which a throughput at most ×1.03 the
	// window's leaves empty; one label per buffer size, beside its runs.
	slices.SortFunc(pts, func(a, b pt) int { return a.buf - b.buf })
	l := &placer{p: p}
	last := map[int]pt{} // the rightmost run of each buffer size
	for _, q := range pts {
		x, y := p.X(math.Log10(q.x)), p.Y(math.Log10(q.y))
		p.circle(x, y, 4.5, "dot s0", fmt.Sprintf("SetReadBuffer(%d): %s MB/s, window/RTT %s MB/s", q.buf, num(q.y), num(q.x)))
		l.markDot(x, y, 6)
		if r, ok := last[q.buf]; !ok || q.x > r.x {
			last[q.buf] = q
		}
	}
	l.place("marker", "throughput = window / RTT (dotted: ×0.80 … ×1.03)",
		spot{p.left + 10, p.top + 14, "start"}, spot{p.w - p.right - 10, p.h - p.bottom - 8, "end"})
	for _, q := range pts {
		if last[q.buf] != q {
			continue
		}
		delete(last, q.buf)
		x, y, s := p.X(math.Log10(q.x)), p.Y(math.Log10(q.y)), bytesText(float64(q.buf))
		l.place("value", s, spot{x + 8, y + 4, "start"}, spot{x - 8, y + 4, "end"},
			spot{x, y + 18, "middle"}, spot{x, y - 9, "middle"})
	}
	return p, "Throughput against window / RTT", fmt.Sprintf("latency-bdp · %s, labelled with SetReadBuffer's size", plural(len(pts), "run"))
}
