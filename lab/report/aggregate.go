package report

import (
	"math"
	"sort"
	"strings"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// Reproducibility verdicts of a Figure.
const (
	Identical       = "identical"
	WithinTolerance = "within tolerance"
	NotReproducible = "not reproducible"
)

// Tolerances: a figure is reproducible when its spread stays within 10 % of
// its median, or, for durations (names ending in _ms), within 50 ms — dials
// and timers jitter by a few scheduler ticks, which is no finding.
const (
	relTolerance = 0.10
	msTolerance  = 50.0
)

// NewRow builds the row of one scenario case (or sweep point) from its
// repetitions and aggregates it. s may be nil when only results are known.
func NewRow(s *scenario.Scenario, set, vary scenario.Knobs, results []*scenario.Result) *Row {
	row := &Row{Set: set, Vary: vary, Results: results}
	if s != nil {
		row.Scenario, row.Title, row.Section, row.Article = s.ID, s.Title, s.Section, s.Article
	} else if len(results) > 0 {
		row.Scenario = results[0].Scenario
	}
	Aggregate(row)
	return row
}

// Aggregate fills row.Figures and row.Verdict from row.Results.
func Aggregate(row *Row) {
	values := map[string][]float64{}
	row.Verdict = "PASS"
	if len(row.Results) == 0 {
		row.Verdict = "FAIL"
	}
	notRun := false
	var late *scenario.Result // the first result that failed while the runner was late
	var lateWhy string
	for _, r := range row.Results {
		if r != nil && r.CouldNotRun != "" {
			notRun = true
			continue // no figures: nothing was measured
		}
		if r == nil || !r.OK {
			if why := lateness(r); why == "" {
				row.Verdict = "FAIL"
			} else if late == nil {
				late, lateWhy = r, why
			}
		}
		if r == nil {
			continue
		}
		figs, err := figures(r)
		if err != nil {
			// A result whose observations do not read as its scenario's
			// type has no figures to offer: the row fails and says why.
			row.Verdict = "FAIL"
			row.ObservationErrors = append(row.ObservationErrors, err.Error())
			continue
		}
		for name, v := range figs {
			values[name] = append(values[name], v)
		}
	}
	switch {
	case notRun && row.Verdict == "PASS":
		// Docker, not TCP: told apart from a failed expectation.
		row.Verdict = NotRun
	case late != nil && row.Verdict == "PASS":
		// The busy runner, not TCP: no verdict until measured again.
		row.Verdict, row.Late, row.Again = Late, lateWhy, againCommand(late)
	}
	row.Figures = []Figure{} // [] rather than null in JSON
	for name, vs := range values {
		row.Figures = append(row.Figures, newFigure(name, vs))
	}
	sort.Slice(row.Figures, func(i, j int) bool { return row.Figures[i].Name < row.Figures[j].Name })
}

// figures decodes r's observations as its scenario's type and lists their
// numbers (scenario.Figures: numeric fields and numeric fields one level
// down, "parent.child"). A driver that failed may have recorded nothing or
// part: then there are no figures and no error (the result already fails
// and says why).
func figures(r *scenario.Result) (map[string]float64, error) {
	if r.Error != "" {
		return nil, nil
	}
	sc, err := scenarios.Lookup(r.Scenario)
	if err != nil {
		return nil, err
	}
	obs, err := sc.DecodeObs(r)
	if err != nil {
		return nil, err
	}
	return scenario.Figures(obs), nil
}

// decode reads res's observations as T, strictly (scenario.Observations);
// a chart leaves out a result that does not read, and Aggregate reports it.
func decode[T any](res *scenario.Result) (T, error) {
	return scenario.ReadObs[T](res)
}

func newFigure(name string, vs []float64) Figure {
	sorted := append([]float64(nil), vs...)
	sort.Float64s(sorted)
	f := Figure{Name: name, Values: vs, Min: sorted[0], Max: sorted[len(sorted)-1], Median: median(sorted)}
	if f.Min == f.Max {
		f.Reproducibility = Identical
		return f
	}
	// A zero median leaves the relative spread undefined; the larger
	// magnitude is the scale then.
	scale := math.Abs(f.Median)
	if scale == 0 {
		scale = math.Max(math.Abs(f.Min), math.Abs(f.Max))
	}
	f.Spread = (f.Max - f.Min) / scale
	f.Reproducibility = NotReproducible
	if f.Spread <= relTolerance || (strings.HasSuffix(name, "_ms") && f.Max-f.Min <= msTolerance) {
		f.Reproducibility = WithinTolerance
	}
	return f
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// NotRun is the verdict of a row the lab could not run (Docker failed or
// did not answer) where nothing that did run failed.
const NotRun = "NOT RUN"

// NotRunCount tells how many rows the lab could not run; Counts counts
// them among the failed.
func (r *Report) NotRunCount() int {
	n := 0
	for _, row := range r.Rows {
		if row.Verdict == NotRun {
			n++
		}
	}
	return n
}

// Counts tells how many rows passed and failed. A Late row is neither
// (LateCount): nothing was judged.
func (r *Report) Counts() (passed, failed int) {
	for _, row := range r.Rows {
		switch row.Verdict {
		case "PASS":
			passed++
		case Late:
		default:
			failed++
		}
	}
	return passed, failed
}
