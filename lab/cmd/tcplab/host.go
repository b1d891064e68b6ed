//go:build !container

// Host commands: they drive containers through the harness, so they are
// left out of the lab image (built with -tags container).

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
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
	hostUsage = `
  run [SCENARIO…] [--set KNOB=VALUE]… [--vary KNOB=V1,V2,…]… [--count N] [--out DIR] [--pcap]
                                    run scenarios in containers and report (all by default)
  clean                             remove every container and network of the lab`
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
}

type varyKnob struct {
	name   string
	values []string
}

// parseRun accepts flags before, between and after scenario names.
func parseRun(args []string) (*runFlags, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var sets, varies multi
	f := &runFlags{set: scenario.Knobs{}}
	fs.Var(&sets, "set", "KNOB=VALUE")
	fs.Var(&varies, "vary", "KNOB=V1,V2,…")
	fs.IntVar(&f.count, "count", 1, "repetitions")
	fs.StringVar(&f.out, "out", "", "report directory")
	fs.BoolVar(&f.pcap, "pcap", false, "capture packets")
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
		f.vary = append(f.vary, varyKnob{k, strings.Split(vs, ",")})
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
	if f.out != "" {
		if err := os.MkdirAll(filepath.Join(f.out, "pcap"), 0o755); err != nil {
			fail(1, "tcplab run: "+err.Error())
		}
	}
	ctx := context.Background()
	lab, err := harness.New(ctx)
	if err != nil {
		fail(1, "tcplab run: "+err.Error())
	}
	rep := &report.Report{Schema: report.Schema, Kernel: lab.Kernel, Started: time.Now().UTC()}
	prog := newProgress(os.Stderr, len(rows)*f.count)
	for i, pr := range rows {
		var results []*scenario.Result
		var pcaps []string
		var tl []report.Packet
		for rep := 1; rep <= f.count; rep++ {
			label := fmt.Sprintf("%s %s rep %d/%d", pr.sc.ID, knobLine(pr.set), rep, f.count)
			prog.start(label)
			var opts []harness.Option
			pcapRel := ""
			if f.pcap {
				pcapRel = filepath.Join("pcap", fmt.Sprintf("%02d-%s-%d.pcap", i+1, pr.sc.ID, rep))
				opts = append(opts, harness.Capture(filepath.Join(f.out, pcapRel)))
			}
			res, err := lab.Run(ctx, pr.sc.ID, pr.set, opts...)
			if res == nil {
				res = &scenario.Result{Schema: scenario.Schema, Scenario: pr.sc.ID, Kernel: lab.Kernel, Started: time.Now().UTC()}
			}
			if err != nil && res.Error == "" {
				res.Error = err.Error()
			}
			res.OK = res.OK && res.Error == ""
			results = append(results, res)
			if pcapRel != "" && err == nil {
				pcaps = append(pcaps, pcapRel)
				if tl == nil {
					tl = timeline(filepath.Join(f.out, pcapRel))
				}
			}
			prog.done(label, res)
		}
		row := report.NewRow(pr.sc, pr.set, pr.vary, results)
		row.Pcaps, row.Timeline = pcaps, tl
		if rep.Platform == "" && len(results) > 0 {
			rep.Platform = results[0].Platform // the lab binary's os/arch, as it ran
		}
		rep.Rows = append(rep.Rows, row)
	}
	rep.Finished = time.Now().UTC()
	if err := report.Terminal(os.Stdout, rep); err != nil {
		fail(1, "tcplab run: "+err.Error())
	}
	if f.out != "" {
		for name, render := range map[string]func(io.Writer, *report.Report) error{
			"report.json": report.JSON, "report.md": report.Markdown, "report.html": report.HTML,
		} {
			if err := writeFile(filepath.Join(f.out, name), rep, render); err != nil {
				fail(1, "tcplab run: "+err.Error())
			}
		}
		fmt.Printf("reports: %s/report.{json,md,html}\n", f.out)
	}
	if _, failed := rep.Counts(); failed > 0 {
		os.Exit(1)
	}
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

// progress shows which run is going and how long the whole has taken: an
// updating line on a terminal, plain lines otherwise (CI logs).
type progress struct {
	w      io.Writer
	tty    bool
	total  int
	n      int
	start0 time.Time
	t      time.Time
}

func newProgress(w *os.File, total int) *progress {
	st, _ := w.Stat()
	return &progress{w: w, tty: st != nil && st.Mode()&os.ModeCharDevice != 0, total: total, start0: time.Now()}
}

func (p *progress) start(label string) {
	p.n++
	p.t = time.Now()
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K[%d/%d] %s … (elapsed %s)", p.n, p.total, label, since(p.start0))
	}
}

func (p *progress) done(label string, r *scenario.Result) {
	verdict := "PASS"
	if !r.OK {
		verdict = "FAIL"
	}
	detail := r.Headline
	if r.Error != "" {
		detail = firstLine(r.Error)
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "[%d/%d] %s %s: %s (%s, elapsed %s)\n", p.n, p.total, verdict, label, detail, since(p.t), since(p.start0))
}

func since(t time.Time) string { return time.Since(t).Round(100 * time.Millisecond).String() }

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func cleanCmd(args []string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := harness.CleanAll(ctx); err != nil {
		fail(1, "tcplab clean: "+err.Error())
	}
	fmt.Println("tcplab: removed the lab's containers and networks")
}
