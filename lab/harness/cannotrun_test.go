package harness

import (
	"strings"
	"testing"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// A row needing a delay runs only where the kernel has the mechanism it
// asks for (or, with auto, either); a row without one runs anywhere.
func TestCannotRun(t *testing.T) {
	rtt := scenario.Impairment{RTT: 50 * time.Millisecond, Mechanism: "auto"}
	with := func(im scenario.Impairment, mech string) scenario.Impairment { im.Mechanism = mech; return im }
	lossAuto := scenario.Impairment{Loss: 0.01, Mechanism: "auto"}
	none, netemOnly, queueOnly, both := Mechanisms{}, Mechanisms{Netem: true}, Mechanisms{NFQueue: true}, Mechanisms{true, true}
	for _, tc := range []struct {
		name string
		im   scenario.Impairment
		m    Mechanisms
		says string // "" when it can run
	}{
		{"no impairment, no mechanism", scenario.Impairment{Mechanism: "auto"}, none, ""},
		{"auto loss is nf_tables alone", lossAuto, none, ""},
		{"rate is TBF alone", scenario.Impairment{RateKbit: 1000, Mechanism: "auto"}, none, ""},
		{"auto RTT, delay line only", rtt, queueOnly, ""},
		{"auto RTT, netem only", rtt, netemOnly, ""},
		{"auto RTT, neither", rtt, none, "neither sch_netem nor NFQUEUE"},
		{"netem asked, none", with(rtt, "netem"), queueOnly, "impair.mechanism=netem, and kernel 6.18.44 has no sch_netem"},
		{"netem asked, there", with(rtt, "netem"), netemOnly, ""},
		{"delay line asked, none", with(rtt, "delayline"), netemOnly, "has no NFQUEUE"},
		{"delay line loss asked, none", with(lossAuto, "delayline"), netemOnly, "has no NFQUEUE"},
		{"jitter alone, neither", scenario.Impairment{Jitter: time.Millisecond, Mechanism: "auto"}, none, "neither"},
		{"both there", with(rtt, "delayline"), both, ""},
	} {
		got := cannotRun(tc.im, tc.m, "6.18.44")
		if (tc.says == "") != (got == "") || !strings.Contains(got, tc.says) {
			t.Errorf("%s: cannotRun = %q; want %q", tc.name, got, tc.says)
		}
	}
}
