package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Terminal writes a table, one line per row, then the failed checks, the
// rows not judged because the runner was late (LateLine), then the
// closing "N passed, M failed" line that CI parses.
func Terminal(w io.Writer, r *Report) error {
	closing := summary(r)
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(columns, "\t"))
	for _, row := range r.Rows {
		v := viewOf(row)
		knobs := v.Knobs
		if v.Network != "" {
			knobs = strings.TrimSpace(knobs + " [" + v.Network + "]")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Verdict, v.Scenario, knobs, v.Headline,
			strings.Join(v.Figures, "; "), clip(v.Article, 60))
	}
	tw.Flush()
	for _, f := range failures(r) {
		fmt.Fprintf(&b, "  ✗ %s\n", firstLine(f.String()))
	}
	for _, row := range r.LateRows() {
		fmt.Fprintf(&b, "  ⧗ %s\n", LateLine(row))
		for _, c := range lateChecks(row) {
			fmt.Fprintf(&b, "      failed while late: %s\n", firstLine(c))
		}
	}
	for _, f := range unmeasured(r) {
		fmt.Fprintf(&b, "  ∅ not measured here: %s\n", firstLine(f.String()))
	}
	if n := r.NotRunCount(); n > 0 {
		fmt.Fprintf(&b, "%d of the failed rows the lab could not run (Docker failed or did not answer, or the host lacks what they need: not a verdict on TCP)\n", n)
	}
	fmt.Fprintln(&b, closing)
	_, err := w.Write(b.Bytes())
	return err
}
