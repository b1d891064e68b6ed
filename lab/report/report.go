// Package report renders scenario results for people: a terminal table.
package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/tcplab/tcplab/lab/scenario"
)

// Table writes one row per result and a summary line; it returns how many
// results failed.
func Table(w io.Writer, results []*scenario.Result) int {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tSCENARIO\tKNOBS\tOBSERVED\tMECHANISM\tTIME")
	failed := 0
	for _, r := range results {
		verdict := "PASS"
		if !r.OK {
			verdict = "FAIL"
			failed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.1fs\n", verdict, r.Scenario, caseKnobs(r), r.Headline, r.Mechanism, r.DurationMS/1000)
	}
	tw.Flush()
	for _, r := range results {
		for _, f := range r.Failed() {
			fmt.Fprintf(w, "  ✗ %s: %s\n", r.Scenario, firstLine(f))
		}
	}
	kernel := "unknown"
	if len(results) > 0 {
		kernel = results[0].Kernel
	}
	fmt.Fprintf(w, "%d passed, %d failed (kernel %s)\n", len(results)-failed, failed, kernel)
	return failed
}

// caseKnobs shows the knobs that differ from the pinned defaults.
func caseKnobs(r *scenario.Result) string {
	var out []string
	for k, v := range r.Knobs {
		if pinned, ok := scenario.PinnedSysctls[strings.TrimPrefix(strings.TrimPrefix(k, "server."), "client.")]; ok && pinned == v {
			continue
		}
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	if len(out) > 3 {
		out = append(out[:3], "…")
	}
	return strings.Join(out, " ")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
