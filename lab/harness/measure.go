package harness

import (
	"errors"

	"github.com/tcplab/tcplab/lab/planner"
	"github.com/tcplab/tcplab/lab/scenario"
)

// Measure runs a row with run, and runs it once more when it failed while
// the runner itself was late (scenario.Result.RunnerLate: its delay line
// or its roles' timers), telling again why first; res.Attempts says how
// many runs it took. A fault drill fails by design and an OOM kill is the knobs'
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
			late = res.RunnerLate()
		}
		if late == "" {
			return res, err
		}
		again(late)
	}
}

// maxAttempts: a run whose delay line ran late is measured once more.
const maxAttempts = scenario.MaxAttempts
