// Package report renders scenario results for people and CI: a terminal
// table, JSON, Markdown for issues and a self-contained HTML page with SVG
// charts. A Report holds rows of repeated runs (see model.go); Aggregate
// turns a row's results into figures with a reproducibility verdict.
package report

import (
	"io"
	"strings"

	"github.com/tcplab/tcplab/lab/scenario"
)

// Table writes one row per result (the compose report: one run each) and a
// closing "N passed, M failed (kernel …)" line; it returns how many results
// failed.
func Table(w io.Writer, results []*scenario.Result) int {
	r := &Report{Kernel: "unknown"}
	for _, res := range results {
		r.Rows = append(r.Rows, NewRow(nil, caseKnobs(res), nil, []*scenario.Result{res}))
	}
	if len(results) > 0 {
		r.Kernel = results[0].Kernel
	}
	_ = terminal(w, r, summary(r)+" (kernel "+r.Kernel+")")
	_, failed := r.Counts()
	return failed
}

// caseKnobs keeps the knobs that differ from the pinned defaults.
func caseKnobs(r *scenario.Result) scenario.Knobs {
	out := scenario.Knobs{}
	for k, v := range r.Knobs {
		short := strings.TrimPrefix(strings.TrimPrefix(k, "server."), "client.")
		if pinned, ok := scenario.PinnedSysctls[short]; ok && pinned == v {
			continue
		}
		out[k] = v
	}
	return out
}
