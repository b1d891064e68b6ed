package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/report"
)

// tcplab report -dir DIR: compose's report role, and -again for CI.

// isReportDir tells compose's "report -dir DIR FILE…" from the merge's
// "report DIR…".
func isReportDir(args []string) bool {
	return len(args) == 0 || args[0] == "-dir" || args[0] == "--dir"
}

type reportDirArgs struct {
	dir   string
	names []string
	again bool
}

// parseReportDir parses "-dir DIR [-again] [FILE…]".
func parseReportDir(args []string) (*reportDirArgs, error) {
	fs := newFlags("report")
	a := &reportDirArgs{}
	fs.StringVar(&a.dir, "dir", "/results", "directory of result files")
	fs.BoolVar(&a.again, "again", false, "print only the command that measures each LATE row again, one a line")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	a.names = fs.Args()
	return a, nil
}

// reportDir prints the report of the named result files in dir (all *.json
// when none are named) and writes report.{txt,json,md,html} beside them; a
// missing or failed result makes it return 1. A LATE row (the runner, not
// TCP, was late: report.Late) fails nothing: it is told on stderr, with
// the command that measures it again.
func reportDir(dir string, names []string) int {
	rep, errs := report.FromFiles(dir, names)
	for _, err := range errs {
		fmt.Fprintf(os.Stderr, "tcplab report: %v\n", err)
	}
	rep.Finished = time.Now().UTC()
	var table strings.Builder
	if err := report.Terminal(&table, rep); err != nil {
		fmt.Fprintln(os.Stderr, "tcplab report:", err)
		return 1
	}
	fmt.Println()
	fmt.Print(table.String())
	// Kept beside the results: Compose 1.29 shows no logs when up fails.
	_ = report.WriteFiles(dir, rep, []byte(table.String()))
	for _, row := range rep.LateRows() {
		fmt.Fprintln(os.Stderr, "tcplab report: "+report.LateLine(row))
	}
	if _, failed := rep.Counts(); failed > 0 || len(errs) > 0 || len(rep.Rows) == 0 {
		return 1
	}
	return 0
}

// printAgain prints, one a line, the command that measures each LATE row
// of dir's results again (`tcplab run …`, quoted for a shell), and nothing
// else: CI runs them after compose. It writes no report files.
func printAgain(dir string, names []string) int {
	rep, errs := report.FromFiles(dir, names)
	for _, err := range errs {
		fmt.Fprintf(os.Stderr, "tcplab report: %v\n", err)
	}
	for _, row := range rep.LateRows() {
		fmt.Println(row.Again)
	}
	if len(errs) > 0 {
		return 1
	}
	return 0
}
