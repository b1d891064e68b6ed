package report

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// Chart kinds, the data-chart attribute of each <svg class="chart">.
const (
	chartDialHistogram = "dial-histogram"
	chartBlockBars     = "bytes-before-block"
	chartProgress      = "write-progress"
	chartSweep         = "sweep"
	chartTimeline      = "timeline"
)

// chart is one SVG figure of the HTML page, shown in its rows' section.
// Each drawing function returns nil when the rows hold nothing to draw.
type chart struct {
	Kind, Section string
	SVG           template.HTML
}

// charts draws every chart the report's data supports, grouped by scenario
// in report order: histograms, bars, progress, sweep, then timelines.
func charts(r *Report) []chart {
	var out []chart
	add := func(kind, section string, p *plot, title, subtitle string) {
		if p != nil {
			out = append(out, chart{Kind: kind, Section: section, SVG: p.svg(kind, title, subtitle)})
		}
	}
	perRow := func(kind string, rows []*Row, draw func(*Row) (*plot, string, string)) {
		for _, row := range rows {
			p, title, sub := draw(row)
			add(kind, row.Section, p, title, sub)
		}
	}
	for _, g := range byScenario(r.Rows) {
		perRow(chartDialHistogram, g, dialHistogram)
		p, title, sub := blockBars(g)
		add(chartBlockBars, g[0].Section, p, title, sub)
		perRow(chartProgress, g, progressChart)
		p, title, sub = sweepChart(g)
		add(chartSweep, g[0].Section, p, title, sub)
		perRow(chartTimeline, g, timelineChart)
	}
	return out
}

// byScenario groups rows by scenario, in order of first appearance.
func byScenario(rows []*Row) [][]*Row {
	var out [][]*Row
	at := map[string]int{}
	for _, row := range rows {
		i, ok := at[row.Scenario]
		if !ok {
			i = len(out)
			at[row.Scenario] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], row)
	}
	return out
}

func rowLabel(row *Row) string {
	if k := knobText(row); k != "" {
		return row.Scenario + " " + k
	}
	return row.Scenario
}

// knob is the row's value of a knob: swept, set, else what the first
// repetition ran with.
func knob(row *Row, name string) (string, bool) {
	if v, ok := row.Vary[name]; ok {
		return v, true
	}
	if v, ok := row.Set[name]; ok {
		return v, true
	}
	for _, res := range row.Results {
		if res != nil {
			v, ok := res.Knobs[name]
			return v, ok
		}
	}
	return "", false
}

// dialHistogram: how long dials took, against the SYN retransmission slots
// they should cluster on (scenarios dial-lossy and backlog-slow-accept).
func dialHistogram(row *Row) (p *plot, title, subtitle string) {
	var ds []float64 // seconds
	linear, failed := 0, 0
	for _, res := range row.Results {
		if res == nil {
			continue
		}
		var ms []float64
		switch row.Scenario {
		case "dial-lossy":
			o, err := decode[scenarios.DialLossyObs](res)
			if err != nil {
				continue // the row's figures say why
			}
			ms, linear = o.DurationsMS, o.TCPSynLinearTimeouts
			failed += o.Histogram["failed"]
		case "backlog-slow-accept":
			o, err := decode[scenarios.BacklogSlowAcceptObs](res)
			if err != nil {
				continue
			}
			ms = o.BlockedDialMS
		}
		for _, v := range ms {
			ds = append(ds, v/1000)
		}
	}
	if len(ds) == 0 {
		return nil, "", ""
	}
	retries := 6
	if v, ok := knob(row, "client.tcp_syn_retries"); ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			retries = n
		}
	}
	sends, giveUp := scenario.SynSchedule(retries, linear)
	slots := append(durSeconds(sends), giveUp.Seconds())

	// Show up to the first slot at or after the slowest dial.
	maxD := slices.Max(ds)
	xmax := maxD
	for _, s := range slots {
		if s >= maxD {
			xmax = s
			break
		}
	}
	xmax = math.Max(xmax*1.04, 0.5)
	const bins = 92
	width := xmax / bins
	counts := make([]int, bins)
	for _, d := range ds {
		counts[min(int(d/width), bins-1)]++
	}
	top := 0
	for _, c := range counts {
		top = max(top, c)
	}
	p = newPlot(0, xmax, 0, niceMax(float64(top)))
	p.yTicks = integers(ticks(0, p.y1, 5))
	p.xFormat, p.xLabel, p.yLabel = seconds, "dial duration (s)", "dials"
	p.axes()
	for i, c := range counts {
		if c > 0 {
			x := float64(i) * width
			p.rect(p.X(x)+0.5, p.Y(float64(c)), p.X(x+width)-p.X(x)-1, p.Y(0)-p.Y(float64(c)), "bar",
				fmt.Sprintf("%d dials in %s–%s s", c, num(x), num(x+width)))
		}
	}
	for i, s := range slots {
		if s > xmax {
			break
		}
		class, label, anchor, dx := "slot", num(s)+"s", "start", 3.0
		if i == 0 {
			label = "SYN"
		}
		if i == len(slots)-1 {
			class, label, anchor, dx = "giveup", "gives up "+num(s)+"s", "end", -3
		}
		p.line(p.X(s), p.top, p.X(s), p.Y(0), class)
		p.text(p.X(s)+dx, p.top+10, anchor, "marker "+class, label)
	}
	sub := fmt.Sprintf("%s · %s over %s", rowLabel(row), plural(len(ds), "dial"), plural(len(row.Results), "run"))
	if failed > 0 {
		sub += fmt.Sprintf(", %d failed (not shown)", failed)
	}
	return p, fmt.Sprintf("Dial durations vs SYN retransmission slots (tcp_syn_retries=%d, tcp_syn_linear_timeouts=%d)", retries, linear), sub
}

func durSeconds(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = d.Seconds()
	}
	return out
}

// integers keeps whole-number ticks, for axes that count.
func integers(ts []float64) []float64 {
	var out []float64
	for _, t := range ts {
		if t == math.Trunc(t) {
			out = append(out, t)
		}
	}
	return out
}

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
	p.bottom = 40 + 12*float64(lines)
	p.h += 12 * float64(lines-1)
	chars := int((p.X(1) - p.X(0)) / 6)
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

// progressChart: bytes written over time, one line per repetition, from an
// write-block's Progress: [ms, bytes] pairs.
func progressChart(row *Row) (p *plot, title, subtitle string) {
	type series struct{ xs, ys []float64 }
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
// from milliseconds.
func timeUnit(maxMS float64) (string, float64) {
	if maxMS > 2000 {
		return "s", 1000
	}
	return "ms", 1
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Timeline lanes, top to bottom.
var lanes = []struct{ flag, class string }{{"SYN", "pk-syn"}, {"SYN-ACK", "pk-synack"}, {"RST", "pk-rst"}}

// timelineChart marks each SYN, SYN-ACK and RST of the row's capture at its
// time, one lane each.
func timelineChart(row *Row) (p *plot, title, subtitle string) {
	if len(row.Timeline) == 0 {
		return nil, "", ""
	}
	end := 0.0
	for _, pk := range row.Timeline {
		end = math.Max(end, pk.AtMS)
	}
	unit, scale := timeUnit(end)
	p = newPlot(0, math.Max(end/scale*1.03, 1/scale), 0, float64(len(lanes)))
	p.left, p.yTicks = 116, []float64{}
	p.xLabel, p.yLabel = "time since the first packet ("+unit+")", ""
	p.axes()
	for i := range lanes {
		y := p.Y(float64(len(lanes)-i) - 0.5)
		p.line(p.left, y, p.w-p.right, y, "grid")
	}
	count := make([]int, len(lanes))
	other := 0
	for _, pk := range row.Timeline {
		lane := laneOf(pk.Flags)
		if lane < 0 {
			other++
			continue
		}
		count[lane]++
		y := float64(len(lanes)-lane) - 0.5
		x := p.X(pk.AtMS / scale)
		p.line(x, p.Y(y+0.32), x, p.Y(y-0.32), lanes[lane].class)
		p.circle(x, p.Y(y), 2.5, lanes[lane].class,
			fmt.Sprintf("%s %s at %s ms, %s → %s", pk.Flags, pk.Dir, num(pk.AtMS), pk.Src, pk.Dst))
	}
	for i, l := range lanes {
		y := p.Y(float64(len(lanes)-i) - 0.5)
		p.text(p.left-8, y+4, "end", "label "+l.class, fmt.Sprintf("%s ×%d", l.flag, count[i]))
	}
	sub := fmt.Sprintf("%s · %d packets in the server's namespace", rowLabel(row), len(row.Timeline))
	if other > 0 {
		sub += fmt.Sprintf(", %d without SYN or RST not marked", other)
	}
	return p, "Packet timeline: SYN, SYN-ACK and RST", sub
}

// laneOf sorts a packet's flags ("SYN", "SYN-ACK", "RST-ACK", …) into a
// lane; -1 for packets without SYN or RST.
func laneOf(flags string) int {
	has := map[string]bool{}
	for _, f := range strings.FieldsFunc(strings.ToUpper(flags), func(r rune) bool { return strings.ContainsRune("-,|+ /", r) }) {
		has[f] = true
	}
	switch {
	case has["RST"]:
		return 2
	case has["SYN"] && has["ACK"]:
		return 1
	case has["SYN"]:
		return 0
	}
	return -1
}
