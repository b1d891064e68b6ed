// Package report renders scenario results for people and CI: a terminal
// table, JSON, Markdown for issues and a self-contained HTML page with SVG
// charts. A Report holds rows of repeated runs (see model.go); Aggregate
// turns a row's results into figures with a reproducibility verdict. It
// also reads and writes results directories (results.go) and merges the
// sets of several machines or kernels side by side (Merge), so that a
// difference between hosts is shown rather than claimed.
package report
