package scenario

import (
	"strings"

	"github.com/tcplab/tcplab/lab/impair"
)

// RunnerLate says why a failed result is the runner's doing rather than
// TCP's, and so worth measuring once more: its delay line, or its client's
// or server's own timers, ran more than impair.LateBound late. It is ""
// when neither did. It needs nothing but the result, so the harness (which
// measures such a run again), `tcplab run --kernel` and the report inside
// compose's container all ask it.
func (r *Result) RunnerLate() string {
	var parts []string
	if impair.LineLate(r.Network) {
		parts = append(parts, "the delay line ran late ("+impair.Lateness(r.Network)+")")
	}
	if timers, late := r.TimersLate(impair.LateBound); late {
		parts = append(parts, timers)
	}
	return strings.Join(parts, "; ")
}

// OOMKilled is how a result says the kernel killed a role for its memory
// limit: the harness writes "<role> OOM-killed" into Error. That is the
// knobs' doing, never the runner's lateness.
const OOMKilled = "OOM-killed"

// MaxAttempts is how many times the harness measures a run at most: once
// more when the first failed while the runner was late. A failed result
// measured fewer times whose runner was late (a compose client's single
// run) is not judged: the report says LATE.
const MaxAttempts = 2
