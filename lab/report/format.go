package report

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// The formatting every renderer shares, so the terminal, Markdown and HTML
// show a row the same way.

// maxKeyFigures bounds the figures shown in a table row; JSON and the HTML
// details carry them all.
const maxKeyFigures = 3

// columns heads the table of every renderer.
var columns = []string{"RESULT", "SCENARIO", "KNOBS", "OBSERVED", "FIGURES (min/median/max)", "ARTICLE (2015)"}

// rowView is a row as the tables show it.
type rowView struct {
	Verdict, Scenario, Knobs, Headline string
	Network                            string   // mechanism and measured RTT of an impaired row (networkText)
	Figures                            []string // key figures, one phrase each
	Article                            string
}

func viewOf(row *Row) rowView {
	v := rowView{Verdict: row.Verdict, Scenario: row.Scenario, Knobs: knobText(row), Article: row.Article, Network: networkText(row)}
	if len(row.Results) > 0 && row.Results[0] != nil {
		v.Headline = row.Results[0].Headline
		if n := len(row.Results); n > 1 {
			v.Headline += fmt.Sprintf(" (1st of %d)", n)
		}
	}
	for _, f := range keyFigures(row) {
		v.Figures = append(v.Figures, figureText(f))
	}
	return v
}

// knobText lists the row's overrides and swept values as sorted k=v.
func knobText(row *Row) string { return strings.Join(knobPairs(row), " ") }

func knobPairs(row *Row) []string {
	var out []string
	for k, v := range row.Set {
		if _, swept := row.Vary[k]; !swept {
			out = append(out, k+"="+v)
		}
	}
	for k, v := range row.Vary {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// chartFigure names the figure a sweep plots: the first that is a
// throughput or a connect time (the latency scenarios), counts successes,
// a give-up time or bytes, else the first figure.
func chartFigure(figs []Figure) (Figure, bool) {
	for _, key := range []string{"throughput", "connect_ms_p50", "succeeded", "failed_after", "bytes"} {
		for _, f := range figs {
			if strings.Contains(f.Name, key) {
				return f, true
			}
		}
	}
	if len(figs) > 0 {
		return figs[0], true
	}
	return Figure{}, false
}

// keyFigures picks the figures worth a table cell: the charted one first,
// then those that vary between repetitions (the interesting ones), then the
// rest, at most maxKeyFigures.
func keyFigures(row *Row) []Figure {
	first, ok := chartFigure(row.Figures)
	if !ok {
		return nil
	}
	out := []Figure{first}
	for _, pass := range []bool{true, false} {
		for _, f := range row.Figures {
			if len(out) == maxKeyFigures {
				return out
			}
			if f.Name != first.Name && (f.Reproducibility != Identical) == pass {
				out = append(out, f)
			}
		}
	}
	return out
}

// figureText: "name 17" when every repetition agreed, else
// "name 2.1/3.3/5 (within tolerance)".
func figureText(f Figure) string {
	if f.Reproducibility == Identical || len(f.Values) < 2 {
		return f.Name + " " + num(f.Median)
	}
	s := fmt.Sprintf("%s %s/%s/%s (%s", f.Name, num(f.Min), num(f.Median), num(f.Max), f.Reproducibility)
	if f.Reproducibility == NotReproducible {
		s += fmt.Sprintf(", spread %.0f%%", f.Spread*100)
	}
	return s + ")"
}

// num prints a figure with the precision a reader needs: integers as
// integers, large values without decimals, small ones to 3 digits.
func num(v float64) string {
	switch a := math.Abs(v); {
	case v == math.Trunc(v) && a < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// failure is one failed check (or driver error) of one repetition.
type failure struct {
	Scenario, Knobs string
	Run, Runs       int // 1-based
	Text            string
}

func (f failure) String() string {
	s := f.Scenario
	if f.Knobs != "" {
		s += " [" + f.Knobs + "]"
	}
	if f.Runs > 1 {
		s += fmt.Sprintf(" run %d/%d", f.Run, f.Runs)
	}
	return s + ": " + f.Text
}

// unmeasured lists, once per row, the checks that could not be made.
func unmeasured(r *Report) []failure {
	var out []failure
	for _, row := range r.Rows {
		seen := map[string]bool{}
		for _, res := range row.Results {
			if res == nil {
				continue
			}
			for _, m := range res.NotMeasured() {
				if !seen[m] {
					seen[m] = true
					out = append(out, failure{row.Scenario, knobText(row), 0, 0, m})
				}
			}
		}
	}
	return out
}

// failures lists the failed checks of the judged rows (a Late row's are
// under its LateLine).
func failures(r *Report) []failure {
	var out []failure
	for _, row := range r.Rows {
		if row.Verdict == Late {
			continue
		}
		knobs := knobText(row)
		for i, res := range row.Results {
			if res == nil {
				out = append(out, failure{row.Scenario, knobs, i + 1, len(row.Results), "no result"})
				continue
			}
			for _, f := range res.Failed() {
				out = append(out, failure{row.Scenario, knobs, i + 1, len(row.Results), f})
			}
		}
		if len(row.Results) == 0 {
			out = append(out, failure{row.Scenario, knobs, 0, 0, "no result"})
		}
		for _, e := range row.ObservationErrors {
			out = append(out, failure{row.Scenario, knobs, 0, 0, "observations: " + e})
		}
	}
	return out
}

// summary is the closing line CI parses: "N passed, M failed", then
// ", K late (not judged)" when rows were Late.
func summary(r *Report) string {
	p, f := r.Counts()
	s := fmt.Sprintf("%d passed, %d failed", p, f)
	if n := r.LateCount(); n > 0 {
		s += fmt.Sprintf(", %d late (not judged)", n)
	}
	return s
}

// section is the rows of one article section, in report order.
type section struct {
	Name string
	Rows []*Row
}

func sections(r *Report) []section {
	var out []section
	at := map[string]int{}
	for _, row := range r.Rows {
		i, ok := at[row.Section]
		if !ok {
			i = len(out)
			at[row.Section] = i
			name := row.Section
			if name == "" {
				name = "Other"
			}
			out = append(out, section{Name: name})
		}
		out[i].Rows = append(out[i].Rows, row)
	}
	return out
}

// firstLine keeps multi-line details to one table line.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// clip shortens s to n runes with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
