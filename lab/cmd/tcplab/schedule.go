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
	"github.com/tcplab/tcplab/lab/scenario"
)

// job is one repetition of one planned row.
type job struct {
	row, rep  int // indexes into the plan and its repetitions
	label     string
	weight    time.Duration
	exclusive bool
}

// order puts the exclusive jobs first, one after another, then the rest
// longest first, so the longest overlaps with everything shorter and the
// tail is short runs.
func order(jobs []job) []job {
	out := append([]job(nil), jobs...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].exclusive != out[j].exclusive {
			return out[i].exclusive
		}
		return out[i].weight > out[j].weight
	})
	return out
}

// schedule runs jobs in order with at most parallel at once; an exclusive
// job waits until nothing else runs and nothing starts beside it. A job
// never starts before the ones ahead of it in order, so none starves.
func schedule(jobs []job, parallel int, run func(job)) {
	var (
		mu        sync.Mutex
		cond      = sync.NewCond(&mu)
		running   int
		exclusive bool
		wg        sync.WaitGroup
	)
	for _, j := range order(jobs) {
		mu.Lock()
		for exclusive || running >= parallel || (j.exclusive && running > 0) {
			cond.Wait()
		}
		running++
		exclusive = j.exclusive
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(j)
			mu.Lock()
			running--
			if j.exclusive {
				exclusive = false
			}
			cond.Broadcast()
			mu.Unlock()
		}()
	}
	wg.Wait()
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
	running map[job]time.Time
}

func newProgress(w *os.File, total int) *progress {
	st, _ := w.Stat()
	return &progress{w: w, tty: st != nil && st.Mode()&os.ModeCharDevice != 0, total: total,
		start0: time.Now(), running: map[job]time.Time{}}
}

func (p *progress) start(j job) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[j] = time.Now()
	p.status()
}

func (p *progress) done(j job, r *scenario.Result) {
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
	fmt.Fprintf(p.w, "[%d/%d] %s %s: %s (%s, elapsed %s)\n", p.n, p.total, verdict, j.label, detail, since(t), since(p.start0))
	p.status()
}

// status redraws the terminal's last line: the runs in flight.
func (p *progress) status() {
	if !p.tty || len(p.running) == 0 {
		return
	}
	labels := make([]string, 0, len(p.running))
	for j := range p.running {
		labels = append(labels, strings.Fields(j.label)[0])
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
