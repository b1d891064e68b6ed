package harness

import (
	"sync"

	"github.com/tcplab/tcplab/lab/scenario"
)

// pacer lets the runs of one process overlap as far as their figures
// allow. What loads this machine's CPU is Docker's own work on an "op":
// creating, starting, stopping or removing a container or a network
// (about 0.26 CPU-s per container here, two cores in all). So the pacer
// counts ops, and a run's measurement, its client from start to exit, is
// paced by its Load:
//   - Neutral: nothing asked; ops of other runs go on, maxOps at once.
//   - Quiet: begins with no op in flight and runs while the others' ops
//     go one at a time, the load its tolerances held under (measured here:
//     TestLatencyDial, TestLatencyNoDelay and TestLossRetransmit passed
//     without a delay-line retry beside one container create-remove loop,
//     and needed retries beside three). Quiet measurements overlap each
//     other: between them a few packets a round trip.
//   - Alone: runs with no op and no other Quiet or Alone measurement.
//
// Waiting measurements go before new ops, so a measurement waits at most
// for the ops already in flight; ops never wait on a measurement that
// waits for them, so nothing deadlocks.
type pacer struct {
	mu        sync.Mutex
	cond      *sync.Cond
	maxOps    int // ops at once while nothing measures
	ops       int // ops in flight
	quiet     int // Quiet measurements running
	alone     bool
	waitQuiet int // measurements waiting to begin
	waitAlone int
}

func newPacer(maxOps int) *pacer {
	p := &pacer{maxOps: max(1, maxOps)}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// opLimit is how many ops may be in flight now.
func (p *pacer) opLimit() int {
	switch {
	case p.alone || p.waitAlone > 0 || p.waitQuiet > 0:
		return 0 // drain, so the waiting measurement begins on an idle daemon
	case p.quiet > 0:
		return 1
	}
	return p.maxOps
}

// op runs f as one op, when the pacer lets it.
func (p *pacer) op(f func()) {
	p.mu.Lock()
	for p.ops >= p.opLimit() {
		p.cond.Wait()
	}
	p.ops++
	p.mu.Unlock()
	defer p.release()
	f()
}

func (p *pacer) release() {
	p.mu.Lock()
	p.ops--
	p.cond.Broadcast()
	p.mu.Unlock()
}

// measure runs start (one op, the client's start) and then wait (the
// measurement itself) as load asks.
func (p *pacer) measure(load scenario.Load, start, wait func()) {
	if load == scenario.Neutral {
		p.op(start)
		wait()
		return
	}
	p.mu.Lock()
	if load == scenario.Alone {
		p.waitAlone++
		for p.alone || p.quiet > 0 || p.ops > 0 {
			p.cond.Wait()
		}
		p.waitAlone--
		p.alone = true
	} else {
		p.waitQuiet++
		for p.alone || p.waitAlone > 0 || p.ops > 0 {
			p.cond.Wait()
		}
		p.waitQuiet--
		p.quiet++
	}
	p.ops++ // the client's start: the one op beside the measurements
	p.mu.Unlock()
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

// maxOps is how many ops run at once while nothing measures: on 2 cores
// more only queue in the daemon.
const maxOps = 4
