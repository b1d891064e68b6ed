package harness

import (
	"errors"
	"strings"

	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/planner"
	"github.com/tcplab/tcplab/lab/scenario"
)

// Measure runs a row with run, and runs it once more when it failed while
// the runner itself was late (RunnerLate: its delay line or its roles'
// timers), telling again why first; res.Attempts says how many runs it
// took. A fault drill fails by design and an OOM kill is the knobs'
// doing, so neither is measured again. The harness and the VM runs
// (tcplab run --kernel) share it.
func Measure(r planner.Row, run func() (*scenario.Result, error), again func(late string)) (*scenario.Result, error) {
	drill := r.Knobs.Impairment().Crash != ""
	for attempt := 1; ; attempt++ {
		res, err := run()
		if res != nil {
			res.Attempts = attempt
		}
		late := ""
		if attempt < maxAttempts && res != nil && !res.OK && !drill && !errors.Is(err, ErrOOMKilled) {
			late = RunnerLate(res)
		}
		if late == "" {
			return res, err
		}
		again(late)
	}
}

// maxAttempts: a run whose delay line ran late is measured once more.
const maxAttempts = 2

// RunnerLate says why a failed result is the runner's doing rather than
// TCP's, and so worth measuring once more: its delay line, or its client's
// or server's own timers, ran more than impair.LateBound late. It is ""
// when neither did. The harness and `tcplab run --kernel` both ask it.
func RunnerLate(res *scenario.Result) string {
	var parts []string
	if impair.LineLate(res.Network) {
		parts = append(parts, "the delay line ran late ("+impair.Lateness(res.Network)+")")
	}
	if timers, late := res.TimersLate(impair.LateBound); late {
		parts = append(parts, timers)
	}
	return strings.Join(parts, "; ")
}
