package report

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sweep charts: a figure against the knob a --vary sweep changed.

// sweepChart: a figure against the knob a --vary sweep changed, median with
// the min–max whisker of the repetitions.
func sweepChart(rows []*Row) (p *plot, title, subtitle string) {
	if len(rows) < 2 {
		return nil, "", ""
	}
	name := variedKnob(rows)
	fig, ok := chartFigure(rows[0].Figures)
	if name == "" || !ok {
		return nil, "", ""
	}
	type point struct {
		value string
		f     Figure
	}
	var pts []point
	for _, row := range rows {
		for _, f := range row.Figures {
			if f.Name == fig.Name {
				pts = append(pts, point{row.Vary[name], f})
			}
		}
	}
	if len(pts) < 2 {
		return nil, "", ""
	}
	sort.SliceStable(pts, func(i, j int) bool {
		a, aok := knobNumber(pts[i].value)
		b, bok := knobNumber(pts[j].value)
		return aok && bok && a < b
	})
	lo, hi := 0.0, 0.0
	var cats []string
	var xs, ys []float64
	for i, pt := range pts {
		lo, hi = math.Min(lo, pt.f.Min), math.Max(hi, pt.f.Max)
		cats = append(cats, pt.value)
		xs, ys = append(xs, float64(i)), append(ys, pt.f.Median)
	}
	p = newPlot(-0.5, float64(len(pts))-0.5, lo, niceMax(hi))
	p.xCategories, p.xLabel, p.yLabel = cats, name, fig.Name
	if strings.Contains(fig.Name, "bytes") {
		p.bytesAxis(hi)
	}
	p.axes()
	p.polyline(xs, ys, "series s0")
	for i, pt := range pts {
		whisker(p, xs[i], pt.f)
		p.circle(p.X(xs[i]), p.Y(ys[i]), 4.5, "dot s0",
			fmt.Sprintf("%s=%s: %s", name, pt.value, figureText(pt.f)))
		p.text(p.X(xs[i]), p.Y(pt.f.Max)-9, "middle", "value", p.yFormat(ys[i]))
	}
	return p, fmt.Sprintf("Sweep: %s against %s", fig.Name, name),
		fmt.Sprintf("%s · median of the runs, whiskers min–max", rows[0].Scenario)
}

// variedKnob is the first swept knob that takes two or more values.
func variedKnob(rows []*Row) string {
	values := map[string]map[string]bool{}
	for _, row := range rows {
		for k, v := range row.Vary {
			if values[k] == nil {
				values[k] = map[string]bool{}
			}
			values[k][v] = true
		}
	}
	var names []string
	for k, vs := range values {
		if len(vs) > 1 {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// knobNumber reads an Int, Fraction or Duration knob value for ordering.
func knobNumber(v string) (float64, bool) {
	v = strings.TrimSpace(v)
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f, true
	}
	if d, err := time.ParseDuration(v); err == nil {
		return d.Seconds(), true
	}
	return 0, false
}

// timeUnit picks ms for short spans and s for longer ones, with the divisor
