//go:build !container

// Host commands: they drive containers through the harness, so they are
// left out of the lab image (built with -tags container).

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/pcap"
	"github.com/tcplab/tcplab/lab/report"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
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
  clean [--all]                     remove the containers and networks of dead lab sessions
                                    (--all: of every session, live or from another host)`
}

// multi collects a repeated flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, " ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

type runFlags struct {
	ids   []string
	set   scenario.Knobs
	vary  []varyKnob
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

type varyKnob struct {
	name   string
	values []string
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
		f.vary = append(f.vary, varyKnob{k, strings.Split(vs, ",")})
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

// plannedRow is one row before it runs: a scenario and its resolved knobs.
type plannedRow struct {
	sc   *scenario.Scenario
	set  scenario.Knobs
	vary scenario.Knobs
}

// plan expands scenarios × (cases | sweeps) and validates every knob value,
// so bad input fails before any container starts.
func plan(f *runFlags) ([]plannedRow, error) {
	var scs []*scenario.Scenario
	if len(f.ids) == 0 {
		scs = scenarios.All()
	}
	for _, id := range f.ids {
		sc, err := scenarios.Lookup(id)
		if err != nil {
			return nil, err
		}
		scs = append(scs, sc)
	}
	var rows []plannedRow
	for _, sc := range scs {
		var sets, varies []scenario.Knobs
		switch {
		case len(f.vary) > 0:
			for _, combo := range product(f.vary) {
				set := merge(f.set, combo)
				sets, varies = append(sets, set), append(varies, combo)
			}
		case len(f.set) == 0 && len(sc.Cases) > 0:
			for _, c := range sc.Cases {
				sets, varies = append(sets, c), append(varies, nil)
			}
		default:
			sets, varies = append(sets, f.set), append(varies, nil)
		}
		for i, set := range sets {
			if _, err := sc.Resolve(set); err != nil {
				return nil, err
			}
			rows = append(rows, plannedRow{sc: sc, set: set, vary: varies[i]})
		}
	}
	return rows, nil
}

// product is the cartesian product of the swept values, first knob slowest.
func product(vary []varyKnob) []scenario.Knobs {
	out := []scenario.Knobs{{}}
	for _, v := range vary {
		var next []scenario.Knobs
		for _, base := range out {
			for _, val := range v.values {
				next = append(next, merge(base, scenario.Knobs{v.name: val}))
			}
		}
		out = next
	}
	return out
}

func merge(a, b scenario.Knobs) scenario.Knobs {
	out := scenario.Knobs{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
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
	// The one thing a run leaves behind on purpose.
	fmt.Fprintf(os.Stderr, "image %s (kept: cached by its binary's hash)\n", lab.Image)
	prog := newProgress(os.Stderr, len(rows)*f.count)
	results := make([][]*scenario.Result, len(rows))
	pcaps := make([][]string, len(rows))
	var jobs []job
	for i, pr := range rows {
		results[i], pcaps[i] = make([]*scenario.Result, f.count), make([]string, f.count)
		k, _ := pr.sc.Resolve(pr.set) // validated by plan
		for rep := 1; rep <= f.count; rep++ {
			// Not exclusive: the harness paces Docker runs by load itself.
			jobs = append(jobs, job{row: i, rep: rep, weight: pr.sc.Expected(k),
				label: fmt.Sprintf("%s %s rep %d/%d", pr.sc.ID, knobLine(pr.set), rep, f.count)})
		}
	}
	parallel := f.parallel
	if !f.parallelSet {
		parallel = 64 // the harness holds at most a few dozen runs' containers at once
	}
	schedule(jobs, parallel, func(j job) {
		pr := rows[j.row]
		prog.start(j)
		var opts []harness.Option
		pcapRel := ""
		if f.pcap {
			pcapRel = filepath.Join("pcap", fmt.Sprintf("%02d-%s-%d.pcap", j.row+1, pr.sc.ID, j.rep))
			opts = append(opts, harness.Capture(filepath.Join(f.out, pcapRel)))
		}
		res, err := lab.Run(ctx, pr.sc.ID, pr.set, opts...)
		if res == nil {
			res = &scenario.Result{Schema: scenario.Schema, Scenario: pr.sc.ID, Kernel: lab.Kernel, Started: time.Now().UTC()}
		}
		switch {
		case errors.Is(err, harness.ErrCouldNotRun):
			res.CouldNotRun = err.Error() // Docker's doing: exit 3, not 1
		case err != nil && res.Error == "":
			res.Error = err.Error()
		}
		res.OK = res.OK && res.Error == "" && res.CouldNotRun == ""
		results[j.row][j.rep-1] = res
		if pcapRel != "" && err == nil {
			pcaps[j.row][j.rep-1] = pcapRel
		}
		prog.done(j, res)
	})
	for i, pr := range rows {
		row := report.NewRow(pr.sc, pr.set, pr.vary, results[i])
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
			fail(1, "tcplab run: "+err.Error())
		}
		fmt.Printf("results: %s/NN-<name>.json, one per run; reports: %s/report.{txt,json,md,html}\n", f.out, f.out)
	}
	os.Exit(exitCode(rep))
}

// prepareOut makes --out's directory, and pcap/ in it only when --pcap
// asks for captures (with --kernel each kernel's directory holds its own).
// It runs before Docker is asked anything: a path that cannot be a
// directory is bad input, said in one line.
func prepareOut(f *runFlags) error {
	if f.out == "" {
		return nil
	}
	dir := f.out
	if f.pcap && len(f.kernels) == 0 {
		dir = filepath.Join(f.out, "pcap")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && filepath.Clean(pe.Path) == filepath.Clean(f.out) {
			err = pe.Err // "--out x: not a directory", not "--out x: mkdir x: not a directory"
		}
		return fmt.Errorf("--out %s: %w", f.out, err)
	}
	return nil
}

// writeOut writes what compose's results directory holds too: one
// tcplab.result/v1 file per run, named as compose names them (NN-<name>.json,
// NN the run's number, <name> the scenario with its row's number where it
// has several rows), and the report as report.txt (the table printed),
// report.json, report.md and report.html. Result files an earlier run left
// there are removed first, so the directory is one run's.
func writeOut(dir string, rep *report.Report, table []byte, rows []plannedRow, results [][]*scenario.Result) error {
	old, _ := filepath.Glob(filepath.Join(dir, "[0-9]*-*.json"))
	for _, p := range old {
		if isResultFile(p) {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	names := resultNames(rows, results)
	for i, rs := range results {
		for j, r := range rs {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, names[i][j]), append(b, '\n'), 0o644); err != nil {
				return err
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "report.txt"), table, 0o644); err != nil {
		return err
	}
	for name, render := range map[string]func(io.Writer, *report.Report) error{
		"report.json": report.JSON, "report.md": report.Markdown, "report.html": report.HTML,
	} {
		if err := writeFile(filepath.Join(dir, name), rep, render); err != nil {
			return err
		}
	}
	return nil
}

// resultNames names every run's result file, rows in order and each row's
// repetitions together: with one run per row and every scenario's cases,
// the names are compose's (lab/cmd/tcplab compose).
func resultNames(rows []plannedRow, results [][]*scenario.Result) [][]string {
	perScenario := map[string]int{}
	total := 0
	for i, pr := range rows {
		perScenario[pr.sc.ID]++
		total += len(results[i])
	}
	width := max(2, len(strconv.Itoa(total))) // so the names sort in run order
	seen := map[string]int{}
	names := make([][]string, len(rows))
	n := 0
	for i, pr := range rows {
		name := pr.sc.ID
		seen[name]++
		if perScenario[name] > 1 {
			name = fmt.Sprintf("%s-%d", name, seen[pr.sc.ID])
		}
		for range results[i] {
			n++
			names[i] = append(names[i], fmt.Sprintf("%0*d-%s.json", width, n, name))
		}
	}
	return names
}

// isResultFile reports whether path holds a tcplab.result/v1 document.
func isResultFile(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var r struct{ Schema string }
	return json.Unmarshal(b, &r) == nil && r.Schema == scenario.Schema
}

// Exit codes of a run that got as far as running: 1 when an expectation
// did not hold (TCP did something else), 3 when nothing failed but the lab
// could not run some rows (Docker failed or did not answer), 0 otherwise.
const (
	exitFailed   = 1
	exitCouldNot = 3
)

func exitCode(rep *report.Report) int {
	_, failed := rep.Counts()
	notRun := rep.NotRunCount()
	switch {
	case failed > notRun:
		return exitFailed
	case notRun > 0:
		fmt.Fprintf(os.Stderr, "tcplab run: the lab could not run %d of %d rows (Docker, not TCP): exit %d\n", notRun, len(rep.Rows), exitCouldNot)
		return exitCouldNot
	}
	return 0
}

func writeFile(path string, rep *report.Report, render func(io.Writer, *report.Report) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := render(f, rep); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// timeline turns a capture into the report's packet list: the set-up and
// tear-down packets (SYN, SYN-ACK, RST, FIN) with their times.
func timeline(path string) []report.Packet {
	recs, err := pcap.ReadFile(path)
	if err != nil || len(recs) == 0 {
		return nil
	}
	t0 := recs[0].At
	var out []report.Packet
	for _, r := range recs {
		s := r.Segment
		if s.Flags&0x07 == 0 { // no SYN, RST or FIN
			continue
		}
		dir := "out"
		if s.DstPort == scenario.Port {
			dir = "in"
		}
		out = append(out, report.Packet{AtMS: scenario.Ms(r.At.Sub(t0)), Dir: dir, Flags: pcap.FlagString(s.Flags),
			Src: fmt.Sprintf("%s:%d", s.Src, s.SrcPort), Dst: fmt.Sprintf("%s:%d", s.Dst, s.DstPort), Len: r.Length})
		if len(out) == 500 {
			break
		}
	}
	return out
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

// cleanCmd removes what dead sessions left: a session is dead when the
// lock it holds for its whole life can be taken (see harness.Clean).
func cleanCmd(args []string) {
	all, err := parseClean(args)
	if err != nil {
		fail(2, "tcplab clean: usage: tcplab clean [--all]")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := harness.Clean(ctx, harness.CleanOptions{All: all})
	if rep == nil {
		fail(1, "tcplab clean: "+err.Error())
	}
	for _, s := range rep.Removed {
		fmt.Printf("removed session %s (%s, host %s): %d containers, %d networks\n", s.ID, s.State, s.Host, len(s.Containers), len(s.Networks))
	}
	for _, s := range rep.Kept {
		if s.ID == "" {
			s.ID = "(none: compose's)"
		}
		fmt.Printf("kept session %s (%s, host %s): %d containers, %d networks\n", s.ID, s.State, s.Host, len(s.Containers), len(s.Networks))
	}
	if rep != nil && rep.Locks > 0 {
		fmt.Printf("removed %d lock files of dead sessions that left nothing\n", rep.Locks)
	}
	if err != nil {
		fail(1, "tcplab clean: "+err.Error())
	}
	if len(rep.Kept) > 0 && !all {
		fmt.Println("tcplab clean: live sessions, and sessions another machine runs against this daemon, are left alone; --all removes them too")
	}
	fmt.Printf("tcplab clean: removed %d dead sessions, kept %d\n", len(rep.Removed), len(rep.Kept))
}

// parseClean parses "[--all]".
func parseClean(args []string) (all bool, err error) {
	fs := newFlags("clean")
	fs.BoolVar(&all, "all", false, "remove every session's containers and networks, live or not, from any host")
	fs.BoolVar(&all, "force", false, "same as --all")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	return all, noArgs(fs.Args())
}
