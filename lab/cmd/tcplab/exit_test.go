//go:build !container

package main

import (
	"testing"

	"github.com/tcplab/tcplab/lab/report"
)

// A run's exit code keeps TCP's failures (1) apart from the lab's (3).
func TestExitCode(t *testing.T) {
	row := func(v string) *report.Row { return &report.Row{Verdict: v} }
	for _, tc := range []struct {
		name string
		rows []*report.Row
		want int
	}{
		{"all passed", []*report.Row{row("PASS")}, 0},
		{"an expectation failed", []*report.Row{row("PASS"), row("FAIL")}, exitFailed},
		{"the lab could not run one", []*report.Row{row("PASS"), row(report.NotRun)}, exitCouldNot},
		{"both: TCP's failure wins", []*report.Row{row("FAIL"), row(report.NotRun)}, exitFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitCode(&report.Report{Rows: tc.rows}); got != tc.want {
				t.Fatalf("exit %d, want %d", got, tc.want)
			}
		})
	}
}
