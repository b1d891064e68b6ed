//go:build !container

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/kernelrun"
	"github.com/tcplab/tcplab/lab/planner"
	"github.com/tcplab/tcplab/lab/report"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/topology"
	"github.com/tcplab/tcplab/lab/vm"
)

// kernelKnob is the pseudo-knob of --vary kernel=6.1,6.12,host and --set
// kernel=6.12: the same as --kernel.
const kernelKnob = "kernel"

func joinKernels(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}

func parseKernels(list string) ([]string, error) { return kernelrun.Parse(list) }

// kernelSide is one column of the comparison: a named kernel in VMs, or
// the host's kernel in containers.
type kernelSide struct {
	name    string
	release string
	pkg     string // a VM's kernel package, NAME=VERSION; "" for the host
	run     func(ctx context.Context, r planner.Row, pcap string) (*scenario.Result, error)
	results [][]*scenario.Result
	boots   []time.Duration
	mu      sync.Mutex
}

// result is what a run of sc on s leaves in the report: the runtime's
// result, or one saying why there is none. A VM's names the package it
// booted, a failed run's too, so that every result says what it ran on.
func (s *kernelSide) result(res *scenario.Result, err error, sc *scenario.Scenario, set scenario.Knobs) *scenario.Result {
	if res == nil {
		res = &scenario.Result{Schema: scenario.Schema, Scenario: sc.ID, Knobs: set, Kernel: s.release, Started: time.Now().UTC()}
	}
	if s.pkg != "" {
		res.KernelPackage = s.pkg
	}
	if err != nil && res.Error == "" {
		res.Error = err.Error()
		if errors.Is(err, kernelrun.ErrUnsupported) {
			res.Headline = "not run: " + err.Error()
		}
	}
	res.OK = res.OK && res.Error == ""
	return res
}

// runKernels runs every row once per kernel (VMs for different kernels
// side by side, at most --parallel runs at once), writes each kernel's
// report to OUT/KERNEL/ and the per-kernel comparison to OUT/, and prints
// the comparison. It returns the exit code: 2 for bad input (no QEMU),
// 1 when a kernel could not be had or a row failed.
func runKernels(f *runFlags, rows []planner.Row) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop() // Ctrl-C ends every run's context: QEMU is killed, its files removed
	named := false
	for _, k := range f.kernels {
		named = named || k != kernelrun.Host
	}
	var bin string
	if named {
		if _, err := vm.QEMUPath(); err != nil {
			fmt.Fprintln(os.Stderr, "tcplab run: "+err.Error())
			return 2
		}
		tmp, err := os.MkdirTemp("", "tcplab-vmbin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "tcplab run:", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		bin = filepath.Join(tmp, "tcplab")
		if err := harness.LabBinary(ctx, "amd64", bin); err != nil {
			fmt.Fprintln(os.Stderr, "tcplab run: "+firstLine(err.Error()))
			return 1
		}
	}
	var sides []*kernelSide
	var lab *harness.Lab
	for _, name := range f.kernels {
		s := &kernelSide{name: name, results: make([][]*scenario.Result, len(rows))}
		if name == kernelrun.Host {
			var err error
			if lab, err = harness.New(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "tcplab run: host: "+firstLine(err.Error()))
				return 1
			}
			defer lab.Close()
			s.release = lab.Kernel
			s.run = func(ctx context.Context, r planner.Row, pcap string) (*scenario.Result, error) {
				var opts []harness.Option
				if pcap != "" {
					opts = append(opts, harness.Capture(pcap))
				}
				return lab.RunRow(ctx, r, opts...)
			}
		} else {
			spec, _ := kernelrun.Lookup(name) // parsed
			k, err := kernelrun.Find(ctx, spec, nil)
			if err != nil {
				fmt.Fprintln(os.Stderr, "tcplab run: "+firstLine(err.Error()))
				return 1
			}
			rt, err := kernelrun.New(name, k, bin)
			if err != nil {
				fmt.Fprintln(os.Stderr, "tcplab run: "+err.Error())
				return 1
			}
			rt.Boots = func(boot, _ time.Duration) { s.mu.Lock(); s.boots = append(s.boots, boot); s.mu.Unlock() }
			s.release, s.pkg = k.Release, k.Package()
			s.run = func(ctx context.Context, r planner.Row, pcap string) (*scenario.Result, error) {
				var opts []topology.Option
				if pcap != "" {
					opts = append(opts, topology.WithCapture(pcap))
				}
				t, err := rt.PlanRow(r, opts...)
				if err != nil {
					return nil, err
				}
				// As the harness does for containers: a failed run whose
				// roles' timers or delay line ran late (a software-emulated
				// VM stalls for hundreds of ms) is measured once more.
				return harness.Measure(r, func() (*scenario.Result, error) { return rt.Run(ctx, t) }, func(late string) {
					fmt.Fprintf(os.Stderr, "tcplab: %s %v [kernel %s]: %s; measuring again\n", r.Scenario.ID, r.Set, name, late)
				})
			}
		}
		sides = append(sides, s)
	}
	prog := newProgress(os.Stderr, len(rows)*f.count*len(sides))
	names := make([]string, len(sides))
	for si, s := range sides {
		names[si] = s.name
		for i := range rows {
			s.results[i] = make([]*scenario.Result, f.count)
		}
	}
	jobs := kernelJobs(rows, names, f.count)
	planner.Schedule(jobs, f.parallel, func(j planner.Job) {
		s, pr := sides[j.Row/len(rows)], rows[j.Row%len(rows)]
		prog.start(j)
		pcap := ""
		if f.pcap {
			pcap = filepath.Join(f.out, s.name, "pcap", fmt.Sprintf("%02d-%s-%d.pcap", j.Row%len(rows)+1, pr.Scenario.ID, j.Rep))
			_ = os.MkdirAll(filepath.Dir(pcap), 0o755)
		}
		res, err := s.run(ctx, pr, pcap)
		res = s.result(res, err, pr.Scenario, pr.Set)
		s.results[j.Row%len(rows)][j.Rep-1] = res
		prog.done(j, res)
	})
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "tcplab run: interrupted: every VM stopped; the runs cut short fail below")
	}
	var sets []*report.Set
	failed := 0
	for _, s := range sides {
		rep := &report.Report{Schema: report.Schema, Kernel: s.release, Started: prog.start0.UTC(), Finished: time.Now().UTC()}
		for i, pr := range rows {
			row := report.NewRow(pr.Scenario, pr.Set, pr.Vary, s.results[i])
			rep.Rows = append(rep.Rows, row)
			for _, r := range s.results[i] {
				if rep.Platform == "" && r != nil {
					rep.Platform = r.Platform
				}
			}
		}
		_, fl := rep.Counts()
		failed += fl + rep.LateCount() // a LATE row here was measured once only: no verdict
		dir := filepath.Join(f.out, s.name)
		sets = append(sets, &report.Set{Label: s.name, Dir: dir, Platform: rep.Platform, Kernel: s.release, Report: rep})
		if f.out == "" {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "tcplab run:", err)
			return 1
		}
		var table bytes.Buffer
		err := report.Terminal(&table, rep)
		if err == nil {
			err = writeOut(dir, rep, table.Bytes(), rows, s.results) // as a run on one kernel writes it
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "tcplab run: --out:", err)
			return exitCouldNot
		}
	}
	for _, s := range sides {
		if len(s.boots) > 0 {
			var sum time.Duration
			for _, b := range s.boots {
				sum += b
			}
			fmt.Fprintf(os.Stderr, "kernel %s (%s, %s): %d boots, mean %v to /init\n", s.name, s.release, s.pkg, len(s.boots), (sum / time.Duration(len(s.boots))).Round(time.Millisecond))
		}
	}
	m := report.Merge(sets)
	report.ExplainKernels(m)
	if err := report.MergedTerminal(os.Stdout, m); err != nil {
		fmt.Fprintln(os.Stderr, "tcplab run:", err)
		return 1
	}
	if f.out != "" {
		for name, render := range map[string]func(io.Writer, *report.Merged) error{
			"report.json": report.MergedJSON, "report.md": report.MergedMarkdown, "report.html": report.MergedHTML,
		} {
			if err := writeMerged(filepath.Join(f.out, name), m, render); err != nil {
				fmt.Fprintln(os.Stderr, "tcplab run: --out:", err)
				return exitCouldNot
			}
		}
		fmt.Printf("per-kernel comparison: %s/report.{json,md,html}; each kernel's report in %s/{%s}/\n", f.out, f.out, strings.Join(f.kernels, ","))
	}
	if ctx.Err() != nil {
		return 130
	}
	if failed > 0 {
		return 1
	}
	return 0
}
