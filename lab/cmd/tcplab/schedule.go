//go:build !container

package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/planner"
	"github.com/tcplab/tcplab/lab/scenario"
)

// hostJobs are a run's jobs on the host's Docker: each row count times,
// none exclusive, since the harness paces Docker runs by the row's Load
// itself (planner.Row.Load, in Lab.RunRow).
func hostJobs(rows []planner.Row, count int) []planner.Job {
	var jobs []planner.Job
	for i, pr := range rows {
		for rep := 1; rep <= count; rep++ {
			jobs = append(jobs, planner.Job{Row: i, Rep: rep, Weight: pr.Weight,
				Label: fmt.Sprintf("%s %s rep %d/%d", pr.Scenario.ID, knobLine(pr.Set), rep, count)})
		}
	}
	return jobs
}

// kernelJobs are the jobs of `tcplab run --kernel`: each row count times
// on each kernel named, Row indexing every kernel's rows (kernel k's row
// i is k*len(rows)+i). A row whose Load (planner.LoadOf: its knobs
// included) is not Neutral runs alone: a VM's delay lines and timers need
// the cores as much as a container's.
func kernelJobs(rows []planner.Row, kernels []string, count int) []planner.Job {
	var jobs []planner.Job
	for si, name := range kernels {
		for i, pr := range rows {
			for rep := 1; rep <= count; rep++ {
				jobs = append(jobs, planner.Job{Row: si*len(rows) + i, Rep: rep, Weight: pr.Weight,
					Exclusive: pr.Load != scenario.Neutral,
					Label:     fmt.Sprintf("%s %s [kernel %s] rep %d/%d", pr.Scenario.ID, knobLine(pr.Set), name, rep, count)})
			}
		}
	}
	return jobs
}

// defaultParallel is --parallel's default. Most scenarios wait on kernel
// timers, not the CPU, so more runs than cores overlap well. Measured on 2
// (shared) cores, `tcplab run` of all 34 runs: 183 s one after another,
// 70 s with 4 at once, 57 s with 6, 54 s with 8: beyond 6 the runs only
// queue on Docker's container start-up.
const defaultParallel = 6

// progress shows what is running and how long the whole has taken: one
// line per finished run (safe to interleave in CI logs), plus on a terminal
// an updating status line of the runs in flight.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	total   int
	n       int
	start0  time.Time
	running map[planner.Job]time.Time
}

func newProgress(w *os.File, total int) *progress {
	st, _ := w.Stat()
	return &progress{w: w, tty: st != nil && st.Mode()&os.ModeCharDevice != 0, total: total,
		start0: time.Now(), running: map[planner.Job]time.Time{}}
}

func (p *progress) start(j planner.Job) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[j] = time.Now()
	p.status()
}

func (p *progress) done(j planner.Job, r *scenario.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	t := p.running[j]
	delete(p.running, j)
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
	fmt.Fprintf(p.w, "[%d/%d] %s %s: %s (%s, elapsed %s)\n", p.n, p.total, verdict, j.Label, detail, since(t), since(p.start0))
	p.status()
}

// status redraws the terminal's last line: the runs in flight.
func (p *progress) status() {
	if !p.tty || len(p.running) == 0 {
		return
	}
	labels := make([]string, 0, len(p.running))
	for j := range p.running {
		labels = append(labels, strings.Fields(j.Label)[0])
	}
	sort.Strings(labels)
	line := fmt.Sprintf("[%d/%d] running %s", p.n, p.total, strings.Join(labels, ", "))
	if r := []rune(line); len(r) > 90 { // one terminal line, or \r cannot redraw it
		line = string(r[:89]) + "…"
	}
	fmt.Fprintf(p.w, "\r\033[K%s (elapsed %s)", line, since(p.start0))
}

func since(t time.Time) string { return time.Since(t).Round(100 * time.Millisecond).String() }

// rssLine sums up memory: the host process's peak RSS and, per role, the
// largest peak RSS a container of that role reported, with its scenario.
func rssLine(results [][]*scenario.Result) string {
	var b strings.Builder
	if host, err := harness.HostPeakRSS(); err == nil {
		fmt.Fprintf(&b, "peak RSS: host process %.1f MiB", float64(host)/(1<<20))
	} else {
		fmt.Fprintf(&b, "peak RSS: host process unknown (%v)", err)
	}
	for _, role := range []string{"server", "server-agent", "client", "client-agent"} {
		var top int64
		var where string
		for _, rs := range results {
			for _, r := range rs {
				if r != nil && r.PeakRSSKiB[role] > top {
					top, where = r.PeakRSSKiB[role], r.Scenario
				}
			}
		}
		if top > 0 {
			fmt.Fprintf(&b, "; %s ≤ %.1f MiB (%s)", role, float64(top)/1024, where)
		}
	}
	return b.String()
}
