package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tcplab/tcplab/lab/report"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

const mergeUsage = "tcplab report DIR… [--out DIR] [--strict]: merge result sets, one column per platform"

// mergeCmd is `tcplab report DIR…`: result sets from several machines side
// by side, every difference flagged. It needs no Docker, so it runs
// anywhere the CLI builds (CI's last job, a laptop with colleagues' results).
func mergeCmd(args []string) {
	a, err := parseMerge(args)
	if err != nil {
		fail(2, "tcplab report: "+err.Error())
	}
	var sets []*report.Set
	for _, d := range a.dirs {
		if _, err := os.Stat(d); err != nil {
			fail(2, "tcplab report: "+err.Error()) // a set that is not there is bad input
		}
		s, err := report.Load(d, defaultKnobs)
		if err != nil {
			fail(1, "tcplab report: "+err.Error())
		}
		sets = append(sets, s)
	}
	m := report.Merge(sets)
	if report.KernelsDiffer(sets) {
		report.ExplainKernels(m) // tcplab run --kernel's sets, or any on several kernels
	}
	if err := report.MergedTerminal(os.Stdout, m); err != nil {
		fail(1, "tcplab report: "+err.Error())
	}
	if a.out != "" {
		if err := os.MkdirAll(a.out, 0o755); err != nil {
			fail(1, "tcplab report: "+err.Error())
		}
		for name, render := range map[string]func(io.Writer, *report.Merged) error{
			"report.json": report.MergedJSON, "report.md": report.MergedMarkdown, "report.html": report.MergedHTML,
		} {
			if err := writeMerged(filepath.Join(a.out, name), m, render); err != nil {
				fail(1, "tcplab report: "+err.Error())
			}
		}
		fmt.Printf("merged reports: %s/report.{json,md,html}\n", a.out)
	}
	if a.strict && m.Flags > 0 {
		os.Exit(1)
	}
}

type mergeArgs struct {
	dirs   []string
	out    string
	strict bool
}

// parseMerge parses "DIR… [--out DIR] [--strict]", flags anywhere.
func parseMerge(args []string) (*mergeArgs, error) {
	fs := newFlags("report")
	a := &mergeArgs{}
	fs.StringVar(&a.out, "out", "", "write report.{json,md,html} of the merge here")
	fs.BoolVar(&a.strict, "strict", false, "exit 1 when anything differs between sets")
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%v (usage: %s)", err, mergeUsage)
		}
		if fs.NArg() == 0 {
			break
		}
		a.dirs = append(a.dirs, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(a.dirs) == 0 {
		return nil, errors.New("usage: " + mergeUsage)
	}
	return a, nil
}

// defaultKnobs lets rows that name the same case differently line up.
func defaultKnobs(id string) scenario.Knobs {
	sc, err := scenarios.Lookup(id)
	if err != nil {
		return nil
	}
	k, _ := sc.Resolve(nil)
	return k
}

func writeMerged(path string, m *report.Merged, render func(io.Writer, *report.Merged) error) error {
	var b bytes.Buffer
	if err := render(&b, m); err != nil {
		return err
	}
	return report.WriteFile(path, b.Bytes())
}
