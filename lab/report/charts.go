package report

import (
	"fmt"
	"html/template"
)

// Chart kinds, the data-chart attribute of each <svg class="chart">.
const (
	chartDialHistogram = "dial-histogram"
	chartBlockBars     = "bytes-before-block"
	chartProgress      = "write-progress"
	chartSweep         = "sweep"
	chartTimeline      = "timeline"
	chartConnectRTT    = "connect-vs-rtt"
	chartBDP           = "throughput-vs-window"
)

// chart is one SVG figure of the HTML page, shown in its rows' section,
// or, where the data makes no figure, a line of text (Note) in its place.
// Each drawing function returns nil when the rows hold nothing to draw,
// and a nil plot with a title for a note.
type chart struct {
	Kind, Section string
	SVG           template.HTML
	Note          string
}

// charts draws every chart the report's data supports, grouped by scenario
// in report order: histograms, bars, progress, sweep, timelines, then the
// latency charts (connect time against RTT, throughput against window/RTT).
func charts(r *Report) []chart {
	var out []chart
	add := func(kind, section string, p *plot, title, subtitle string) {
		switch {
		case p != nil:
			out = append(out, chart{Kind: kind, Section: section, SVG: p.svg(kind, title, subtitle)})
		case title != "":
			out = append(out, chart{Kind: kind, Section: section, Note: title + " — " + subtitle})
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
		p, title, sub = connectRTTChart(g)
		add(chartConnectRTT, g[0].Section, p, title, sub)
		p, title, sub = bdpChart(g)
		add(chartBDP, g[0].Section, p, title, sub)
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
