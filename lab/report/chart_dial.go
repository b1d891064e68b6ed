package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/scenarios"
	"github.com/tcplab/tcplab/lab/tcpmodel"
)

// Dial charts: durations against the SYN retransmission slots.

// dialHistogram: how long the completed dials took, against the SYN
// retransmission slots they should cluster on (scenarios dial-lossy and
// backlog-slow-accept), on the schedule of the sysctls the results
// recorded. Failed dials are counted in the subtitle, never drawn: a
// duration at the give-up is one too (a completed dial lands on a SYN
// slot, well before), should a result list it among the completed.
func dialHistogram(row *Row) (p *plot, title, subtitle string) {
	var ds []float64 // seconds
	retries, linear, failed := 6, 0, 0
	if v, ok := knob(row, "client.tcp_syn_retries"); ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			retries = n
		}
	}
	for _, res := range row.Results {
		if res == nil {
			continue
		}
		var ms []float64
		fails, r := 0, 0 // r: the sysctl in force, as the result recorded it
		switch row.Scenario {
		case "dial-lossy":
			o, err := decode[scenarios.DialLossyObs](res)
			if err != nil {
				continue // the row's figures say why
			}
			ms, r, linear = o.DurationsMS, o.TCPSynRetries, o.TCPSynLinearTimeouts
			fails = len(o.Failed)
		case "backlog-slow-accept":
			o, err := decode[scenarios.BacklogSlowAcceptObs](res)
			if err != nil {
				continue
			}
			ms, r, linear = o.BlockedDialMS, o.TCPSynRetries, o.TCPSynLinearTimeouts
		}
		if r > 0 {
			retries = r
		}
		_, giveUp := tcpmodel.SynSchedule(retries, linear)
		late := 0 // durations at the give-up: failed dials
		for _, v := range ms {
			if v >= float64(giveUp.Milliseconds())-10 {
				late++
				continue
			}
			ds = append(ds, v/1000)
		}
		failed += max(fails, late)
	}
	if len(ds) == 0 {
		return nil, "", ""
	}
	sends, giveUp := tcpmodel.SynSchedule(retries, linear)
	slots := append(durSeconds(sends), giveUp.Seconds())

	// Show up to the first slot at or after the slowest dial.
	maxD := slices.Max(ds)
	if failed > 0 { // where they went
		maxD = math.Max(maxD, giveUp.Seconds())
	}
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
