package report

import (
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// Late is the verdict of a row that failed only while the runner itself
// was late (its delay line released packets late, or its roles' timers
// fired late: a busy machine, not TCP) and was measured once, as compose
// measures every row. It is neither PASS nor FAIL: nothing is said about
// TCP until the row is measured again (Row.Again), which the harness does
// by itself for a late failure. Counts leaves it out of the failed.
const Late = "LATE"

// lateness says why a failed result res is no verdict on TCP, or "" when
// it is one: when it was measured MaxAttempts times already (the harness
// measured it again: judged as it is), when it is a fault drill
// (impair.crash: it fails by design) or an OOM kill (the knobs' doing),
// and when the runner was on time. Aggregate asks it of failed results
// the lab did run (no CouldNotRun), and of a missing one (nil).
func lateness(res *scenario.Result) string {
	if res == nil || res.Attempts >= scenario.MaxAttempts ||
		res.Knobs.Impairment().Crash != "" || strings.Contains(res.Error, scenario.OOMKilled) {
		return ""
	}
	return res.RunnerLate()
}

// againCommand is the command that measures res's case again with the
// harness: `tcplab run SCENARIO --set KNOB=VALUE…`, the knobs that differ
// from the scenario's defaults, sorted, each quoted for a shell if needed.
func againCommand(res *scenario.Result) string {
	var defaults scenario.Knobs
	if sc, err := scenarios.Lookup(res.Scenario); err == nil {
		defaults, _ = sc.Resolve(nil)
	}
	cmd := "tcplab run " + shellWord(res.Scenario)
	for _, k := range slices.Sorted(maps.Keys(res.Knobs)) {
		if d, ok := defaults[k]; !ok || d != res.Knobs[k] {
			cmd += " --set " + shellWord(k+"="+res.Knobs[k])
		}
	}
	return cmd
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_.,:/=@%+-]+$`)

// shellWord quotes s for a POSIX shell unless it needs none.
func shellWord(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// LateCount tells how many rows were not judged because the runner was
// late (Late).
func (r *Report) LateCount() int { return len(r.LateRows()) }

// LateRows are the rows whose verdict is Late, in report order.
func (r *Report) LateRows() []*Row {
	var out []*Row
	for _, row := range r.Rows {
		if row.Verdict == Late {
			out = append(out, row)
		}
	}
	return out
}

// LateLine says, in one line, that row was not judged, why, and how to
// measure it again: "SCENARIO [knobs]: not judged, the runner was late
// (…); measure it again: tcplab run …".
func LateLine(row *Row) string {
	s := row.Scenario
	if k := knobText(row); k != "" {
		s += " [" + k + "]"
	}
	return s + ": not judged, the runner was late (" + row.Late + "); measure it again: " + row.Again
}

// lateChecks lists the checks a Late row's results failed (while late).
func lateChecks(row *Row) []string {
	var out []string
	for _, res := range row.Results {
		if res != nil {
			out = append(out, res.Failed()...)
		}
	}
	return out
}
