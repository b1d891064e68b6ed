package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/tcplab/tcplab/lab/scenarios"
)

// Write charts: bytes before Write blocks, and write progress over time.

// blockFigure is write-block's BytesBeforeBlock over the row's results.
func blockFigure(row *Row) (Figure, bool) {
	if row.Scenario != "write-block" {
		return Figure{}, false
	}
	var vs []float64
	for _, res := range row.Results {
		if res == nil {
			continue
		}
		if o, err := decode[scenarios.WriteBlockObs](res); err == nil {
			vs = append(vs, float64(o.BytesBeforeBlock))
		}
	}
	if len(vs) == 0 {
		return Figure{}, false
	}
	return newFigure("bytes_before_block", vs), true
}

// blockBars: one bar per row of bytes written before Write blocked,
// labelled by the buffer knobs that explain it.
func blockBars(rows []*Row) (p *plot, title, subtitle string) {
	var figs []Figure
	var labels []string
	lines := 1
	for _, row := range rows {
		if f, ok := blockFigure(row); ok {
			figs = append(figs, f)
			pairs := knobPairs(row)
			lines = max(lines, len(pairs))
			labels = append(labels, strings.Join(pairs, "\n"))
		}
	}
	if len(figs) == 0 {
		return nil, "", ""
	}
	top := 0.0
	for _, f := range figs {
		top = math.Max(top, f.Max)
	}
	p = newPlot(-0.5, float64(len(figs))-0.5, 0, 1)
	p.bytesAxis(top)
	p.bottom = 40 + 13*float64(lines)
	p.h += 13 * float64(lines-1)
	chars := int((p.X(1) - p.X(0) - 8) / labelCharW) // a gap between neighbours
	for i := range labels {
		var ls []string
		for _, l := range strings.Split(labels[i], "\n") {
			ls = append(ls, clip(l, chars))
		}
		labels[i] = strings.Join(ls, "\n")
	}
	p.xCategories = labels
	p.xLabel, p.yLabel = "case (knobs)", figs[0].Name
	p.axes()
	bw := (p.X(1) - p.X(0)) * 0.5
	for i, f := range figs {
		x := p.X(float64(i))
		p.rect(x-bw/2, p.Y(f.Median), bw, p.Y(0)-p.Y(f.Median), "bar",
			fmt.Sprintf("%s: %s (median of %d)", f.Name, num(f.Median), len(f.Values)))
		whisker(p, float64(i), f)
		p.text(x, p.Y(f.Max)-6, "middle", "value", bytesText(f.Median))
	}
	return p, "Bytes accepted before Write blocked, per buffer setting",
		fmt.Sprintf("%s · %s: median of the runs, whiskers min–max", rows[0].Scenario, figs[0].Name)
}

// whisker marks the min–max range of a figure over the repetitions.
func whisker(p *plot, x float64, f Figure) {
	if f.Min == f.Max {
		return
	}
	px := p.X(x)
	p.line(px, p.Y(f.Min), px, p.Y(f.Max), "whisker")
	p.line(px-5, p.Y(f.Min), px+5, p.Y(f.Min), "whisker")
	p.line(px-5, p.Y(f.Max), px+5, p.Y(f.Max), "whisker")
}

// loneSamples describes runs that took one progress sample each, which
// make no curve: "" when any run has two or more.
func loneSamples(ss []series, unit string, div float64) string {
	var each []string
	for _, s := range ss {
		if len(s.xs) > 1 {
			return ""
		}
		each = append(each, fmt.Sprintf("%s taken %s %s after the first Write", bytesText(s.ys[0]), num(s.xs[0]/div), unit))
	}
	if len(ss) == 1 {
		return "one sample, no curve: " + each[0]
	}
	return fmt.Sprintf("%d runs of one sample each, no curve: %s", len(ss), strings.Join(each, "; "))
}

// series is one line of a chart.
type series struct{ xs, ys []float64 }

// progressChart: bytes written over time, one line per repetition, from an
// write-block's Progress: [ms, bytes] pairs. Runs of one sample each make
// no chart but a line of text (a nil plot with a title and subtitle).
func progressChart(row *Row) (p *plot, title, subtitle string) {
	var ss []series
	var xmax, ymax float64
	for _, res := range row.Results {
		if res == nil {
			continue
		}
		if row.Scenario != "write-block" {
			return nil, "", ""
		}
		o, err := decode[scenarios.WriteBlockObs](res)
		if err != nil {
			continue // the row's figures say why
		}
		var s series
		for _, v := range o.Progress {
			s.xs, s.ys = append(s.xs, v[0]), append(s.ys, v[1])
			xmax, ymax = math.Max(xmax, v[0]), math.Max(ymax, v[1])
		}
		if len(s.xs) > 0 {
			ss = append(ss, s)
		}
	}
	if len(ss) == 0 {
		return nil, "", ""
	}
	unit, div := timeUnit(xmax)
	if lone := loneSamples(ss, unit, div); lone != "" {
		return nil, "Write progress", fmt.Sprintf("%s · %s", rowLabel(row), lone)
	}
	for _, s := range ss {
		for i := range s.xs {
			s.xs[i] /= div
		}
	}
	p = newPlot(0, math.Max(xmax/div*1.05, 1/div), 0, 1)
	p.bytesAxis(ymax)
	p.xLabel, p.yLabel = "time since the first write ("+unit+")", "bytes written"
	p.axes()
	for i, s := range ss {
		class := fmt.Sprintf("s%d", i%6)
		p.polyline(s.xs, s.ys, "series "+class)
		n := len(s.xs) - 1
		p.circle(p.X(s.xs[n]), p.Y(s.ys[n]), 3.5, "dot "+class,
			fmt.Sprintf("run %d: %s after %s %s", i+1, bytesText(s.ys[n]), num(s.xs[n]), unit))
		if len(ss) > 1 {
			p.text(p.w-p.right-4, p.top+14+float64(i)*14, "end", "legend "+class, fmt.Sprintf("run %d", i+1))
		}
	}
	return p, "Write progress over time", fmt.Sprintf("%s · %s", rowLabel(row), plural(len(ss), "run"))
}
