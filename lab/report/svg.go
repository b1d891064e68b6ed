package report

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"unicode/utf8"
)

// plot draws one SVG chart: a data rectangle inside margins for the axes.
// Colours and fonts come from the page's CSS (classes), so the SVG stays
// small and every chart looks alike.
type plot struct {
	b                strings.Builder
	w, h             float64 // the whole SVG
	left, right, top float64 // margins
	bottom           float64
	x0, x1, y0, y1   float64 // data ranges
	xLabel, yLabel   string
	xFormat, yFormat func(float64) string
	xTicks, yTicks   []float64
	xCategories      []string // categorical x axis at 0, 1, …; "\n" splits lines
}

const (
	chartW = 1100.0
	chartH = 310.0
)

func newPlot(x0, x1, y0, y1 float64) *plot {
	if x1 <= x0 {
		x1 = x0 + 1
	}
	if y1 <= y0 {
		y1 = y0 + 1
	}
	return &plot{w: chartW, h: chartH, left: 78, right: 24, top: 50, bottom: 52,
		x0: x0, x1: x1, y0: y0, y1: y1, xFormat: num, yFormat: num}
}

// X and Y map data to SVG coordinates.
func (p *plot) X(v float64) float64 {
	return p.left + (v-p.x0)/(p.x1-p.x0)*(p.w-p.left-p.right)
}

func (p *plot) Y(v float64) float64 {
	return p.h - p.bottom - (v-p.y0)/(p.y1-p.y0)*(p.h-p.top-p.bottom)
}

func (p *plot) line(x1, y1, x2, y2 float64, class string) {
	fmt.Fprintf(&p.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="%s"/>`, x1, y1, x2, y2, class)
}

func (p *plot) rect(x, y, w, h float64, class, tip string) {
	fmt.Fprintf(&p.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="%s"><title>%s</title></rect>`,
		x, y, math.Max(w, 0.5), math.Max(h, 0), class, esc(tip))
}

func (p *plot) circle(x, y, r float64, class, tip string) {
	fmt.Fprintf(&p.b, `<circle cx="%.1f" cy="%.1f" r="%.1f" class="%s"><title>%s</title></circle>`, x, y, r, class, esc(tip))
}

func (p *plot) polyline(xs, ys []float64, class string) {
	var pts []string
	for i := range xs {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", p.X(xs[i]), p.Y(ys[i])))
	}
	fmt.Fprintf(&p.b, `<polyline points="%s" class="%s"/>`, strings.Join(pts, " "), class)
}

// text writes a label; anchor is start, middle or end.
func (p *plot) text(x, y float64, anchor, class, s string) {
	fmt.Fprintf(&p.b, `<text x="%.1f" y="%.1f" text-anchor="%s" class="%s">%s</text>`, x, y, anchor, class, esc(s))
}

// labelCharW is a generous width of one character of an 11px label
// (DejaVu Sans' digits are 0.64 em); TestChartLabelsDoNotOverlap measures
// the real widths in a browser.
const labelCharW = 7.0

// box is a rectangle in SVG units.
type box struct{ x0, y0, x1, y1 float64 }

func (a box) hits(b box) bool { return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1 }

// labelBox is about the box an 11px label takes at (x, y), its baseline.
func labelBox(x, y float64, anchor, s string) box {
	w := float64(utf8.RuneCountInString(s)) * labelCharW
	switch anchor {
	case "end":
		x -= w
	case "middle":
		x -= w / 2
	}
	return box{x, y - 11, x + w, y + 3}
}

// spot is where a label may go: its baseline's anchor point.
type spot struct {
	x, y   float64
	anchor string
}

// placer puts 11px labels inside the data rectangle where they cover no
// other label and no marked shape: each at the first of its spots that
// is free, else at its first spot.
type placer struct {
	p     *plot
	taken []box
}

func (l *placer) mark(b box) { l.taken = append(l.taken, b) }

// markDot marks a circle of radius r at (x, y).
func (l *placer) markDot(x, y, r float64) { l.mark(box{x - r, y - r, x + r, y + r}) }

func (l *placer) free(b box) bool {
	p := l.p
	if b.x0 < p.left || b.x1 > p.w-p.right || b.y0 < p.top || b.y1 > p.h-p.bottom {
		return false
	}
	for _, t := range l.taken {
		if b.hits(t) {
			return false
		}
	}
	return true
}

// place draws s at the first free spot and marks it taken.
func (l *placer) place(class, s string, spots ...spot) {
	at := spots[0]
	for _, c := range spots {
		if l.free(labelBox(c.x, c.y, c.anchor, s)) {
			at = c
			break
		}
	}
	l.mark(labelBox(at.x, at.y, at.anchor, s))
	l.p.text(at.x, at.y, at.anchor, class, s)
}

// axes draws grid, ticks, tick labels and axis labels; call it before the
// data so the data is drawn on top.
func (p *plot) axes() {
	bottom, top := p.h-p.bottom, p.top
	left, right := p.left, p.w-p.right
	yt := p.yTicks
	if yt == nil {
		yt = ticks(p.y0, p.y1, 5)
	}
	for _, v := range yt {
		y := p.Y(v)
		p.line(left, y, right, y, "grid")
		p.text(left-6, y+4, "end", "tick", p.yFormat(v))
	}
	if p.xCategories != nil {
		for i, c := range p.xCategories {
			x := p.X(float64(i))
			p.line(x, bottom, x, bottom+4, "axis")
			for j, l := range strings.Split(c, "\n") {
				p.text(x, bottom+16+float64(j)*13, "middle", "tick", l)
			}
		}
	} else {
		xt := p.xTicks
		if xt == nil {
			xt = ticks(p.x0, p.x1, 8)
		}
		for _, v := range xt {
			x := p.X(v)
			p.line(x, bottom, x, bottom+4, "axis")
			p.text(x, bottom+16, "middle", "tick", p.xFormat(v))
		}
	}
	p.line(left, bottom, right, bottom, "axis")
	p.line(left, top, left, bottom, "axis")
	p.text((left+right)/2, p.h-8, "middle", "label", p.xLabel)
	fmt.Fprintf(&p.b, `<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle" class="label">%s</text>`,
		(top+bottom)/2, esc(p.yLabel))
}

// svg wraps the drawing in its <svg> element with the chart's kind, its
// title (what is plotted) and subtitle (which row, how many runs).
func (p *plot) svg(kind, title, subtitle string) template.HTML {
	return template.HTML(fmt.Sprintf(
		`<svg class="chart" data-chart="%s" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-label="%s">`+
			`<text x="16" y="20" class="title">%s</text><text x="16" y="37" class="subtitle">%s</text>%s</svg>`,
		esc(kind), p.w, p.h, p.w, p.h, esc(title+" — "+subtitle), esc(title), esc(subtitle), p.b.String()))
}

// bytesAxis makes the y axis count bytes in round binary units (64 KiB,
// 1 MiB, …) as buffer sizes are set, up to at least top.
func (p *plot) bytesAxis(top float64) {
	unit := 1.0
	for _, u := range []float64{1 << 30, 1 << 20, 1 << 10} {
		if top >= 2*u {
			unit = u
			break
		}
	}
	p.y0, p.y1, p.yTicks, p.yFormat = 0, niceMax(top/unit)*unit, nil, bytesText
	for _, t := range ticks(0, p.y1/unit, 5) {
		p.yTicks = append(p.yTicks, t*unit)
	}
}

// ticks returns about n round values (1, 2, 5 × 10^k steps) within [lo, hi].
func ticks(lo, hi float64, n int) []float64 {
	if hi <= lo || n < 1 {
		return []float64{lo}
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, math.Round(v/step)*step)
	}
	return out
}

// niceMax rounds a positive maximum up to the last tick, so bars never
// touch the top.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	t := ticks(0, v*1.1, 5)
	last := t[len(t)-1]
	if last < v*1.05 {
		last += t[1] - t[0]
	}
	return last
}

// bytesText prints a byte count in binary units, as buffer sizes are set.
func bytesText(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1<<20:
		return num(v/(1<<20)) + " MiB"
	case a >= 1<<10:
		return num(v/(1<<10)) + " KiB"
	}
	return num(v) + " B"
}

func seconds(v float64) string { return num(v) + " s" }

func esc(s string) string { return template.HTMLEscapeString(s) }
