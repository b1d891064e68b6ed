package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tcplab/tcplab/lab/planner"
	"github.com/tcplab/tcplab/lab/scenario"
)

// pacer lets the runs of one process overlap as far as their figures
// allow. It admits a run by the class and weight its planner.Row carries
// (planner.LoadOf, Scenario.Expected) and ranks its waiters with
// planner.Rank, as compose and `tcplab run` do; the admission loop stays
// here, bound up with the run's budget and the machine gate. What loads this machine's CPU is Docker's own work on an "op":
// creating, starting, stopping or removing a container or a network
// (about 0.26 CPU-s per container here, two cores in all). So the pacer
// counts ops, and a run's measurement, its client from start to exit, is
// paced by its Load:
//   - Neutral: ops of other runs go on, maxOps at once; its measurement
//     waits while a Quiet or Alone one runs or waits to begin.
//   - Quiet: begins with no op and no Neutral measurement in flight, and
//     runs beside no op but the clients' starts of its own batch and no
//     Neutral measurement (beside one op at a time and the Neutral
//     measurements, five suites in a row needed 22 re-measurements in 290
//     runs, the delay lines 10-60 ms late on 2 cores). Up to maxQuiet
//     Quiet measurements overlap: between them a few packets a round trip.
//   - Alone: runs with no op and no other Quiet or Alone measurement.
//
// A Quiet or Alone run's client starts as an op of its setup and waits at
// a gate (runner.GateLine); its measurement is the go (SIGUSR1) to its
// exit. Quiet measurements are batched, since while one runs every
// start-up waits its turn: runs that will measure get their place
// and their ops before the others, and a Quiet measurement waits to begin
// until no Quiet run is still starting or waiting for a place (unless
// another already measures: then it joins it). Among the others, the
// runs expected to take longest get places and ops first, so the long
// waits on kernel timers (SYN backoff) overlap everything else. Waiting
// measurements go before new ops, so a measurement waits at most for the
// ops already in flight; ops never wait on a measurement that waits for
// them, so nothing deadlocks.
type pacer struct {
	mu        sync.Mutex
	cond      *sync.Cond
	maxOps    int // ops at once while nothing measures
	ops       int // ops in flight
	quiet     int // Quiet measurements running
	alone     bool
	waitQuiet int // measurements waiting to begin
	waitAlone int
	starting  int // Quiet runs registered and not yet measuring
	maxRuns   int // runs holding containers at once
	runs      int
	prewait   int     // Quiet measurements waiting for their batch
	neutral   int     // Neutral measurements running
	placeQ    []*rank // runs waiting for a place
	opQ       []*rank // ops waiting to start
	seq       uint64
	// gate keeps other processes' ops away from this one's measurements,
	// and this one's from theirs; nil: this process only.
	gate *machineGate
}

// rank orders waiters for places and ops: by planner.Rank (runs that
// will measure, Quiet or Alone, first, then the longest expected), then
// the first come.
type rank struct {
	planner.Rank
	seq uint64
}

func (a *rank) before(b *rank) bool {
	if a.Rank != b.Rank {
		return a.Before(b.Rank)
	}
	return a.seq < b.seq
}

// turn waits, p.mu held, until r is among the free() best-ranked waiters
// of q, and takes it out of q; or until ctx ends, when it
// gives up its place in q and returns ctx's error.
func (p *pacer) turn(ctx context.Context, q *[]*rank, r *rank, free func() int) error {
	p.seq++
	r.seq = p.seq
	*q = append(*q, r)
	defer func() { *q = slices.DeleteFunc(*q, func(o *rank) bool { return o == r }) }()
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	for {
		if ctx.Err() != nil {
			p.cond.Broadcast() // a waiter behind r may go now
			return ctx.Err()
		}
		if n := free(); n > 0 {
			ahead := 0
			for _, o := range *q {
				if o != r && o.before(r) {
					ahead++
				}
			}
			if ahead < n {
				break
			}
		}
		p.cond.Wait()
	}
	return nil
}

// paced is one run's handle on the pacer, from its first op to its last.
type paced struct {
	p        *pacer
	load     scenario.Load
	weight   time.Duration // the run's expected wall time
	starting bool          // counted in p.starting
	b        *budget       // the run's own time: stopped while it waits here
}

// ErrQueued means a run waited longer than the pacer's bound for a place
// among the runs that hold containers: the lab could not run it.
var ErrQueued = errors.New("waited too long for a place")

// placeWait bounds a run's wait for a place: generous, since a place
// frees when a run ends and runs are bounded by their own budgets.
// TCPLAB_QUEUE_TIMEOUT sets it (a Go duration).
func placeWait() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("TCPLAB_QUEUE_TIMEOUT")); err == nil && d > 0 {
		return d
	}
	return time.Hour
}

// begin waits for a place among the maxRuns runs (by rank), at most
// placeWait or until ctx ends, and registers the run, expected to take
// weight, before its first op; end gives the place back.
func (p *pacer) begin(ctx context.Context, load scenario.Load, weight time.Duration) (*paced, error) {
	r := &paced{p: p, load: load, weight: weight}
	wait := placeWait()
	wctx, cancel := context.WithTimeoutCause(ctx, wait, ErrQueued)
	defer cancel()
	t0 := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.turn(wctx, &p.placeQ, r.rank(), func() int { return p.maxRuns - p.runs }); err != nil {
		if cause := context.Cause(wctx); errors.Is(cause, ErrQueued) {
			return nil, fmt.Errorf("%w: %v among %d runs holding containers (bound %v, TCPLAB_QUEUE_TIMEOUT)",
				ErrQueued, time.Since(t0).Round(time.Second), p.maxRuns, wait)
		}
		return nil, err
	}
	p.runs++
	if load == scenario.Quiet {
		p.starting++
		r.starting = true
	}
	return r, nil
}

// end gives the run's place back, after its last op.
func (r *paced) end() {
	r.started()
	r.p.mu.Lock()
	r.p.runs--
	r.p.cond.Broadcast()
	r.p.mu.Unlock()
}

// rank is the run's place among waiters: measuring runs first.
func (r *paced) rank() *rank {
	return &rank{Rank: planner.RankOf(r.load, r.weight)}
}

// op runs f as one of the run's ops; the run's clock stops while it waits
// for its turn.
func (r *paced) op(f func()) { r.p.op(r.rank(), r.b, f) }

// measure runs the client's start and its measurement: a Neutral run's
// start is an op like any other, a paced one's goes as pacer.measure says.
func (r *paced) measure(start, wait func()) {
	r.started()
	if r.load == scenario.Neutral {
		r.p.neutralMeasure(r.b, start, wait)
		return
	}
	r.p.measure(r.load, r.b, start, wait)
}

// placeWaiters reports whether a Quiet or Alone run waits for a place.
func (p *pacer) placeWaiters() bool {
	return slices.ContainsFunc(p.placeQ, func(r *rank) bool { return r.First })
}

// started takes the run out of p.starting (when its setup ends, or fails).
func (r *paced) started() {
	if !r.starting {
		return
	}
	r.starting = false
	r.p.mu.Lock()
	r.p.starting--
	r.p.cond.Broadcast()
	r.p.mu.Unlock()
}

func newPacer(maxOps, maxRuns int) *pacer {
	p := &pacer{maxOps: max(1, maxOps), maxRuns: max(1, maxRuns)}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// opLimit is how many ops may be in flight now.
func (p *pacer) opLimit() int {
	switch {
	case p.alone || p.quiet > 0 || p.waitAlone > 0 || p.waitQuiet > 0:
		// Drain, so a waiting measurement begins on an idle daemon, and
		// none beside one: beside one container op at a time the delay
		// lines still ran 10-60 ms late on 2 cores.
		return 0
	}
	return p.maxOps
}

// op runs f as one op, when the pacer lets it, by rank. An op is never
// abandoned (a removal must run), so it waits without a context; b's
// clock stops while it waits.
func (p *pacer) op(r *rank, b *budget, f func()) {
	b.pause()
	p.mu.Lock()
	_ = p.turn(context.Background(), &p.opQ, r, func() int { return p.opLimit() - p.ops })
	p.ops++
	p.mu.Unlock()
	// No op runs beside this process's own timed measurements (opLimit),
	// so its own lock never holds it here; another process's does.
	p.gate.waitIdle()
	b.resume()
	defer p.release()
	f()
}

func (p *pacer) release() {
	p.mu.Lock()
	p.ops--
	p.cond.Broadcast()
	p.mu.Unlock()
}

// neutralMeasure runs a Neutral run's client start and measurement when
// no Quiet or Alone measurement runs or waits to begin: a timed
// measurement has nothing beside it but other Quiet ones and one op at a
// time, since a neighbour's client (bulk writes, thousands of dials) takes
// the cores its delay lines need on time. b's clock stops while it waits.
func (p *pacer) neutralMeasure(b *budget, start, wait func()) {
	b.pause()
	p.mu.Lock()
	// The client's start is an op, taken here with the measurement's
	// place: taken through the op queue, a timed measurement draining ops
	// could wait on it while it waits on the drain.
	for p.alone || p.quiet > 0 || p.waitAlone > 0 || p.waitQuiet > 0 || p.ops >= p.opLimit() {
		p.cond.Wait()
	}
	p.neutral++
	p.ops++
	p.mu.Unlock()
	p.gate.waitIdle() // no other process measures
	b.resume()
	defer func() {
		p.mu.Lock()
		p.neutral--
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	start()
	p.release()
	wait()
}

// measure runs start (one op, the client's go) and then wait (the
// measurement itself) as a Quiet or Alone load asks. b's clock stops
// while the measurement waits for its batch.
func (p *pacer) measure(load scenario.Load, b *budget, start, wait func()) {
	b.pause()
	p.mu.Lock()
	if load == scenario.Alone {
		p.waitAlone++
		for p.alone || p.quiet > 0 || p.ops > 0 || p.neutral > 0 {
			p.cond.Wait()
		}
		p.waitAlone--
		p.alone = true
	} else {
		// Batch with the Quiet runs still starting, and those waiting for
		// a place unless every place is held by a run waiting here.
		p.prewait++
		for p.quiet == 0 && (p.starting > 0 || (p.placeWaiters() && p.prewait < p.runs)) {
			p.cond.Wait()
		}
		p.prewait--
		// Drain the ops only once nothing else holds the measurement back
		// (a full batch, an Alone run): the ops go on meanwhile.
		for {
			if p.alone || p.waitAlone > 0 || p.quiet >= maxQuiet {
				p.cond.Wait()
				continue
			}
			if p.ops == 0 && (p.neutral == 0 || p.quiet > 0) {
				break // (a batch already measuring has drained them)
			}
			p.waitQuiet++
			p.cond.Wait()
			p.waitQuiet--
		}
		p.quiet++
	}
	p.ops++ // the client's start: the one op beside the measurements
	p.mu.Unlock()
	defer p.gate.measuring()()
	b.resume()
	start()
	p.release()
	defer func() {
		p.mu.Lock()
		if load == scenario.Alone {
			p.alone = false
		} else {
			p.quiet--
		}
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	wait()
}

// maxQuiet is how many Quiet measurements run at once: with twenty at
// once (each with two delay lines, some moving bulk transfers) a full
// test run needed 4 delay-line retries on 2 cores, with six 3, with four
// none.
const maxQuiet = 2

// maxRuns is how many runs of one process hold containers (and a network)
// at once: Docker's default address pools give about 30 networks on a
// host (all 58 runs of the tests at once used them up), and a process
// that finds none free waits for one (newNetwork).
const maxRuns = 28

// maxOpsFor is how many ops run at once while nothing measures, for a
// daemon with ncpu CPUs: two per CPU keep them busy while one op waits on
// the other's I/O; more only queue in the daemon. TCPLAB_MAX_OPS sets it.
func maxOpsFor(ncpu int) int {
	if n, err := strconv.Atoi(os.Getenv("TCPLAB_MAX_OPS")); err == nil && n > 0 {
		return n
	}
	return 2 * max(1, ncpu)
}
