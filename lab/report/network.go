package report

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// networkText says, for a row run with impair.* knobs, which mechanism
// impaired the network and what RTT the kernel measured through it
// (tcpi_rtt of the run's probe; min–max over the repetitions), so a reader
// sees beside every impaired figure whether the impairment happened: e.g.
// "delayline +50ms: tcpi_rtt 50.4 ms". Empty for a row without them.
func networkText(row *Row) string {
	var mechs []string
	var rtts []float64
	var asked string
	for _, res := range row.Results {
		if res == nil || res.Network == nil {
			continue
		}
		n := res.Network
		if !slices.Contains(mechs, res.Mechanism) {
			mechs = append(mechs, res.Mechanism)
		}
		rtts = append(rtts, n.TcpiRTTMS)
		var parts []string
		if n.RTTMS > 0 {
			parts = append(parts, "+"+time.Duration(n.RTTMS*float64(time.Millisecond)).String())
		}
		if n.JitterMS > 0 {
			parts = append(parts, "±"+time.Duration(n.JitterMS*float64(time.Millisecond)).String())
		}
		if n.Loss > 0 {
			parts = append(parts, fmt.Sprintf("loss %g", n.Loss))
		}
		if n.RateKbit > 0 {
			parts = append(parts, fmt.Sprintf("%d kbit/s", n.RateKbit))
		}
		asked = strings.Join(parts, " ")
	}
	if len(rtts) == 0 {
		return ""
	}
	slices.Sort(rtts)
	rtt := fmt.Sprintf("%.1f", rtts[0])
	if rtts[len(rtts)-1] != rtts[0] {
		rtt += fmt.Sprintf("–%.1f", rtts[len(rtts)-1])
	}
	s := strings.Join(mechs, ", ")
	if asked != "" {
		s += " " + asked
	}
	return s + ": tcpi_rtt " + rtt + " ms"
}
