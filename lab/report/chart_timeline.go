package report

import (
	"fmt"
	"math"
	"strings"
)

// Timeline charts: the packets of a capture, one lane per flag.

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
