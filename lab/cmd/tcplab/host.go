//go:build !container

// Host commands: they drive containers through the harness, so they are
// left out of the lab image (built with -tags container).

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/planner"
	"github.com/tcplab/tcplab/lab/report"
	"github.com/tcplab/tcplab/lab/scenario"
)

func init() {
	hostCommands["run"] = runCmd
	hostCommands["clean"] = cleanCmd
	argChecks["run"] = func(args []string) error {
		f, err := parseRun(args)
		if err == nil {
			_, err = plan(f) // scenarios and knob values too
		}
		return err
	}
	argChecks["clean"] = func(args []string) error { _, err := parseClean(args); return err }
	hostUsage = `
  run [SCENARIO…] [--set KNOB=VALUE]… [--vary KNOB=V1,V2,…]… [--count N] [--out DIR] [--pcap]
      [--parallel N] [--platform linux/amd64|linux/arm64] [--kernel 6.1,6.12,host]
                                    run scenarios in containers and report (all by default),
                                    N at once (default 6), longest first, exclusive ones alone
  clean [--all]                     remove the containers and networks of dead lab sessions,
                                    and impairment sidecars whose owner is dead (restoring their
                                    containers) (--all: every session's and sidecar, live or
                                    from another host)`
}

// multi collects a repeated flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, " ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

type runFlags struct {
	ids   []string
	set   scenario.Knobs
	vary  []planner.Sweep
	count int
	out   string
	pcap  bool
	// parallel is how many runs may go at once (on VMs, exclusive scenarios run alone).
	parallel    int
	parallelSet bool // --parallel given: else Docker runs all go at once, paced by the harness
	// platform overrides the daemon's platform for the lab's containers
	// (as $TCPLAB_PLATFORM does).
	platform string
	// kernels run every row once per named kernel (kernels.go).
	kernels []string
}

// parseRun accepts flags before, between and after scenario names.
func parseRun(args []string) (*runFlags, error) {
	fs := newFlags("run")
	var sets, varies multi
	f := &runFlags{set: scenario.Knobs{}}
	fs.Var(&sets, "set", "KNOB=VALUE")
	fs.Var(&varies, "vary", "KNOB=V1,V2,…")
	fs.IntVar(&f.count, "count", 1, "repetitions")
	fs.StringVar(&f.out, "out", "", "report directory")
	fs.BoolVar(&f.pcap, "pcap", false, "capture packets")
	fs.IntVar(&f.parallel, "parallel", defaultParallel, "runs at once")
	fs.StringVar(&f.platform, "platform", "", "linux/amd64 or linux/arm64 (default: the daemon's)")
	kernels := fs.String("kernel", "", "6.1,6.12,host: run on these kernels")
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		f.ids = append(f.ids, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if f.count < 1 || f.count > 1000 {
		return nil, fmt.Errorf("--count %d: want 1 to 1000", f.count)
	}
	fs.Visit(func(fl *flag.Flag) { f.parallelSet = f.parallelSet || fl.Name == "parallel" })
	if f.parallel < 1 || f.parallel > 64 {
		return nil, fmt.Errorf("--parallel %d: want 1 to 64", f.parallel)
	}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("--set %q: want KNOB=VALUE", s)
		}
		f.set[k] = v
	}
	for _, s := range varies {
		k, vs, ok := strings.Cut(s, "=")
		if !ok || vs == "" {
			return nil, fmt.Errorf("--vary %q: want KNOB=V1,V2,…", s)
		}
		if k == kernelKnob { // a pseudo-knob: the kernel is not the scenario's
			*kernels = joinKernels(*kernels, vs)
			continue
		}
		f.vary = append(f.vary, planner.Sweep{Knob: k, Values: strings.Split(vs, ",")})
	}
	if v, ok := f.set[kernelKnob]; ok {
		*kernels = joinKernels(*kernels, v)
		delete(f.set, kernelKnob)
	}
	if *kernels != "" {
		var err error
		if f.kernels, err = parseKernels(*kernels); err != nil {
			return nil, fmt.Errorf("--kernel: %w", err)
		}
	}
	if f.platform != "" {
		if _, err := harness.ParsePlatform(f.platform); err != nil {
			return nil, fmt.Errorf("--platform: %w", err)
		}
	} else if v := os.Getenv(harness.EnvPlatform); v != "" {
		if _, err := harness.ParsePlatform(v); err != nil {
			return nil, fmt.Errorf("%s: %w", harness.EnvPlatform, err)
		}
	}
	if f.pcap && f.out == "" {
		f.out = "results"
	}
	return f, nil
}

func runCmd(args []string) {
	f, err := parseRun(args)
	if err != nil {
		fail(2, "tcplab run: "+err.Error())
	}
	rows, err := plan(f)
	if err != nil {
		fail(2, "tcplab run: "+err.Error())
	}
	if err := prepareOut(f); err != nil {
		fail(2, "tcplab run: "+err.Error()) // the directory named is the bad input
	}
	if f.platform != "" {
		os.Setenv(harness.EnvPlatform, f.platform) // harness.New reads it
	}
	if len(f.kernels) > 0 {
		os.Exit(runKernels(f, rows))
	}
	ctx := context.Background()
	lab, err := harness.New(ctx)
	if errors.Is(err, harness.ErrNoDocker) || errors.Is(err, harness.ErrUnsupported) {
		fail(2, "tcplab run: "+firstLine(err.Error())) // nothing ran: the endpoint is the bad input
	}
	if err != nil {
		fail(1, "tcplab run: "+err.Error())
	}
	rep := &report.Report{Schema: report.Schema, Kernel: lab.Kernel, Started: time.Now().UTC()}
	if line := cannotRunLine(lab, rows); line != "" {
		fmt.Fprintln(os.Stderr, line)
	}
	// The one thing a run leaves behind on purpose.
	fmt.Fprintf(os.Stderr, "image %s (kept: cached by its binary's hash)\n", lab.Image)
	prog := newProgress(os.Stderr, len(rows)*f.count)
	results := make([][]*scenario.Result, len(rows))
	pcaps := make([][]string, len(rows))
	for i := range rows {
		results[i], pcaps[i] = make([]*scenario.Result, f.count), make([]string, f.count)
	}
	jobs := hostJobs(rows, f.count)
	parallel := f.parallel
	if !f.parallelSet {
		parallel = 64 // the harness holds at most a few dozen runs' containers at once
	}
	planner.Schedule(jobs, parallel, func(j planner.Job) {
		pr := rows[j.Row]
		prog.start(j)
		var opts []harness.Option
		pcapRel := ""
		if f.pcap {
			pcapRel = filepath.Join("pcap", fmt.Sprintf("%02d-%s-%d.pcap", j.Row+1, pr.Scenario.ID, j.Rep))
			opts = append(opts, harness.Capture(filepath.Join(f.out, pcapRel)))
		}
		res, err := lab.RunRow(ctx, pr, opts...)
		if res == nil {
			res = &scenario.Result{Schema: scenario.Schema, Scenario: pr.Scenario.ID, Kernel: lab.Kernel, Started: time.Now().UTC()}
		}
		switch {
		case errors.Is(err, harness.ErrCouldNotRun):
			res.CouldNotRun = err.Error() // Docker's doing: exit 3, not 1
		case err != nil && res.Error == "":
			res.Error = err.Error()
		}
		res.OK = res.OK && res.Error == "" && res.CouldNotRun == ""
		results[j.Row][j.Rep-1] = res
		if pcapRel != "" && err == nil {
			pcaps[j.Row][j.Rep-1] = pcapRel
		}
		prog.done(j, res)
	})
	for i, pr := range rows {
		row := report.NewRow(pr.Scenario, pr.Set, pr.Vary, results[i])
		for _, p := range pcaps[i] {
			if p == "" {
				continue
			}
			row.Pcaps = append(row.Pcaps, p)
			if row.Timeline == nil {
				row.Timeline = timeline(filepath.Join(f.out, p))
			}
		}
		if rep.Platform == "" {
			for _, res := range results[i] {
				if res != nil && res.Platform != "" {
					rep.Platform = res.Platform // the lab binary's os/arch, as it ran
					break
				}
			}
		}
		rep.Rows = append(rep.Rows, row)
	}
	if err := lab.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "tcplab run: clean-up:", err)
	}
	fmt.Fprintln(os.Stderr, rssLine(results))
	rep.Finished = time.Now().UTC()
	var table bytes.Buffer
	if err := report.Terminal(&table, rep); err != nil {
		fail(1, "tcplab run: "+err.Error())
	}
	os.Stdout.Write(table.Bytes())
	if f.out != "" {
		if err := writeOut(f.out, rep, table.Bytes(), rows, results); err != nil {
			fail(exitCouldNot, "tcplab run: --out: "+err.Error())
		}
		fmt.Printf("results: %s/NN-<name>.json, one per run; reports: %s/report.{txt,json,md,html}\n", f.out, f.out)
	}
	os.Exit(exitCode(rep))
}

// Exit codes of a run that got as far as running: 1 when an expectation
// did not hold (TCP did something else), 3 when nothing failed but the lab
// could not run some rows (Docker failed or did not answer, or the host
// lacks what they need) or left some unjudged (LATE: the harness measures
// a run that failed while the runner was late once more itself, so a row
// still LATE here is rare, and no verdict), 0 otherwise.
const (
	exitFailed   = 1
	exitCouldNot = 3
)

func exitCode(rep *report.Report) int {
	_, failed := rep.Counts()
	notRun, late := rep.NotRunCount(), rep.LateCount()
	switch {
	case failed > notRun:
		return exitFailed
	case notRun > 0:
		fmt.Fprintf(os.Stderr, "tcplab run: the lab could not run %d of %d rows (Docker or the host, not TCP): exit %d\n", notRun, len(rep.Rows), exitCouldNot)
		return exitCouldNot
	case late > 0:
		fmt.Fprintf(os.Stderr, "tcplab run: %d of %d rows not judged, the runner was late (not TCP): exit %d\n", late, len(rep.Rows), exitCouldNot)
		return exitCouldNot
	}
	return 0
}

func knobLine(k scenario.Knobs) string {
	keys := make([]string, 0, len(k))
	for n := range k {
		keys = append(keys, n)
	}
	sort.Strings(keys)
	var parts []string
	for _, n := range keys {
		parts = append(parts, n+"="+k[n])
	}
	return strings.Join(parts, " ")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// cannotRunLine is the preflight's one line on the rows this host cannot
// run (harness.Lab.CannotRun), said before any starts: "" when none.
func cannotRunLine(lab *harness.Lab, rows []planner.Row) string {
	var n int
	var first string
	for _, r := range rows {
		if why := lab.CannotRun(r); why != "" {
			if n++; n == 1 {
				first = fmt.Sprintf("%s %s: %s", r.Scenario.ID, knobLine(r.Set), why)
			}
		}
	}
	if n == 0 {
		return ""
	}
	more := ""
	if n > 1 {
		more = fmt.Sprintf(" (and %d more)", n-1)
	}
	return fmt.Sprintf("tcplab: this host cannot run %d of %d rows, reported NOT RUN: %s%s", n, len(rows), first, more)
}
