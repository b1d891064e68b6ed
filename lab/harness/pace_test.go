package harness

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tcplab/tcplab/lab/planner"
	"github.com/tcplab/tcplab/lab/scenario"
)

// paceWorld counts what runs at once, as the pacer's promises see it.
type paceWorld struct {
	ops, quiet, alone       atomic.Int32
	runs, maxRuns           atomic.Int32
	maxOps, maxOpsBesideMsr atomic.Int32 // most ops at once; most beside a measurement
	opsBesideAlone          atomic.Int32 // ops that ran while an Alone measured
	quietBesideAlone        atomic.Int32
	quietStartedBusy        atomic.Int32 // Quiet measurements begun with another op in flight
	neutral                 atomic.Int32 // Neutral measurements running
	neutralBesideTimed      atomic.Int32 // Neutral and timed measurements at once
}

func raise(m *atomic.Int32, v int32) {
	for {
		old := m.Load()
		if v <= old || m.CompareAndSwap(old, v) {
			return
		}
	}
}

func (w *paceWorld) op() {
	n := w.ops.Add(1)
	raise(&w.maxOps, n)
	if w.quiet.Load() > 0 {
		raise(&w.maxOpsBesideMsr, n)
	}
	if w.alone.Load() > 0 {
		w.opsBesideAlone.Add(1)
	}
	time.Sleep(time.Millisecond)
	w.ops.Add(-1)
}

func (w *paceWorld) measure(load scenario.Load) {
	if load == scenario.Neutral {
		w.neutral.Add(1)
		if w.quiet.Load() > 0 || w.alone.Load() > 0 {
			w.neutralBesideTimed.Add(1)
		}
		time.Sleep(2 * time.Millisecond)
		w.neutral.Add(-1)
		return
	}
	if w.neutral.Load() > 0 {
		w.neutralBesideTimed.Add(1)
	}
	mine, other := &w.quiet, &w.alone
	if load == scenario.Alone {
		mine, other = &w.alone, &w.quiet
	}
	mine.Add(1)
	if other.Load() > 0 {
		w.quietBesideAlone.Add(1)
	}
	time.Sleep(3 * time.Millisecond)
	mine.Add(-1)
}

// TestPacer runs many runs of every load at once and checks each promise
// the pacer makes: ops stay within maxOps, one at a time beside a Quiet
// measurement, none beside an Alone one, and a Quiet measurement begins on
// an idle daemon (its own start the only op).
func TestPacer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		loads []scenario.Load
	}{
		{"neutral only", []scenario.Load{scenario.Neutral}},
		{"neutral and quiet", []scenario.Load{scenario.Neutral, scenario.Quiet}},
		{"every load", []scenario.Load{scenario.Neutral, scenario.Quiet, scenario.Alone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPacer(4, 12)
			var w paceWorld
			var wg sync.WaitGroup
			for i := range 60 {
				load := tc.loads[i%len(tc.loads)]
				wg.Go(func() {
					r, err := p.begin(context.Background(), load, time.Duration(i%7)*time.Second)
					if !assert.NoError(t, err) {
						return
					}
					raise(&w.maxRuns, w.runs.Add(1))
					r.op(w.op) // setup: network, server
					r.op(w.op)
					r.measure(func() {
						if load != scenario.Neutral && w.ops.Load() != 0 {
							w.quietStartedBusy.Add(1)
						}
						w.op()
					}, func() { w.measure(load) })
					r.op(w.op) // teardown
					w.runs.Add(-1)
					r.end()
				})
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the pacer deadlocked")
			}
			assert.LessOrEqual(t, w.maxOps.Load(), int32(4), "ops within maxOps")
			assert.LessOrEqual(t, w.maxRuns.Load(), int32(12), "runs within maxRuns")
			assert.LessOrEqual(t, w.maxOpsBesideMsr.Load(), int32(1), "one op at a time beside a Quiet measurement")
			assert.Zero(t, w.opsBesideAlone.Load(), "no op beside an Alone measurement")
			assert.Zero(t, w.quietBesideAlone.Load(), "no Quiet measurement beside an Alone one")
			assert.Zero(t, w.quietStartedBusy.Load(), "a measurement begins with no op in flight")
			assert.Zero(t, w.neutralBesideTimed.Load(), "no Neutral measurement beside a Quiet or Alone one")
			if len(tc.loads) == 1 {
				assert.Equal(t, int32(4), w.maxOps.Load(), "neutral runs use every op slot")
			}
		})
	}
}

// Waiting ops go by rank: a run that will measure first, then the longest
// expected, then the first come.
func TestPacerRank(t *testing.T) {
	p := newPacer(1, 100)
	hold := make(chan struct{})
	held := make(chan struct{})
	go p.op(&rank{}, nil, func() { close(held); <-hold })
	<-held
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	for _, r := range []struct {
		name   string
		first  bool
		weight time.Duration
	}{{"2s", false, 2 * time.Second}, {"quiet", true, time.Second}, {"9s", false, 9 * time.Second}, {"5s", false, 5 * time.Second}} {
		wg.Go(func() {
			p.op(&rank{Rank: planner.Rank{First: r.first, Weight: r.weight}}, nil, func() {
				mu.Lock()
				order = append(order, r.name)
				mu.Unlock()
			})
		})
	}
	assert.Eventually(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.opQ) == 4 }, 5*time.Second, time.Millisecond)
	close(hold)
	wg.Wait()
	assert.Equal(t, []string{"quiet", "9s", "5s", "2s"}, order)
}

// A run waiting for a place gives up at its bound with ErrQueued, and
// leaves the queue, so the runs behind it still get theirs.
func TestPacerPlaceWait(t *testing.T) {
	t.Setenv("TCPLAB_QUEUE_TIMEOUT", "50ms")
	p := newPacer(1, 1)
	held, err := p.begin(context.Background(), scenario.Neutral, 0)
	assert.NoError(t, err)
	t0 := time.Now()
	_, err = p.begin(context.Background(), scenario.Neutral, 0)
	assert.ErrorIs(t, err, ErrQueued)
	assert.GreaterOrEqual(t, time.Since(t0), 50*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = p.begin(ctx, scenario.Neutral, 0)
	assert.ErrorIs(t, err, context.Canceled, "the caller's cancel ends the wait")
	assert.Empty(t, p.placeQ, "who gave up left the queue")
	held.end()
	r, err := p.begin(context.Background(), scenario.Neutral, 0)
	assert.NoError(t, err, "the place freed goes to the next")
	r.end()
}

// A run's budget counts its own work only: time spent waiting for the
// pacer (pause to resume) does not use it up, and work beyond it ends
// the context with ErrBudget.
func TestBudget(t *testing.T) {
	const d = 300 * time.Millisecond // margins of 100 ms: a busy runner's sleeps overshoot
	for _, tc := range []struct {
		name            string
		work, wait, end time.Duration // work before the wait, the wait, work after it
		expired         bool
	}{
		{"waits do not count", 150 * time.Millisecond, 3 * d, 50 * time.Millisecond, false},
		{"work beyond the budget ends it", 150 * time.Millisecond, 3 * d, 250 * time.Millisecond, true},
		{"no wait, over budget", 2 * d, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, b := newBudget(context.Background(), d)
			defer b.stop()
			time.Sleep(tc.work)
			b.pause()
			before := ctx.Err()
			time.Sleep(tc.wait)
			assert.Equal(t, before, ctx.Err(), "never ends during a wait")
			b.resume()
			time.Sleep(tc.end)
			time.Sleep(50 * time.Millisecond) // the timer's goroutine
			assert.Equal(t, tc.expired, ctx.Err() != nil, "used %v of %v", b.used(), d)
			if tc.expired {
				assert.True(t, errors.Is(context.Cause(ctx), ErrBudget), "cause %v", context.Cause(ctx))
			}
		})
	}
}

// Across processes (two pacers, two lock descriptors, as two processes
// would hold them): while one measures, the other's ops wait, and go on
// once the measurement ends.
func TestMachineGate(t *testing.T) {
	dir := t.TempDir()
	a, b := newPacer(4, 4), newPacer(4, 4)
	a.gate, b.gate = newMachineGate(dir), newMachineGate(dir)
	measuring := make(chan struct{})
	end := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		r, err := a.begin(context.Background(), scenario.Quiet, 0)
		if !assert.NoError(t, err) {
			return
		}
		r.measure(func() {}, func() { close(measuring); <-end })
		r.end()
	}()
	<-measuring
	var opAt atomic.Int64
	opDone := make(chan struct{})
	t0 := time.Now()
	go func() {
		b.op(&rank{}, nil, func() { opAt.Store(int64(time.Since(t0))) })
		close(opDone)
	}()
	time.Sleep(150 * time.Millisecond)
	assert.Zero(t, opAt.Load(), "another process's op waits while one measures")
	close(end)
	<-done
	select {
	case <-opDone:
	case <-time.After(5 * time.Second):
		t.Fatal("the op never went on after the measurement")
	}
	assert.GreaterOrEqual(t, time.Duration(opAt.Load()), 150*time.Millisecond)
	// A process's own op asked for during its own measurement waits for
	// it (no op beside a timed measurement), and then its own lock, given
	// back, must not hold it.
	r, err := a.begin(context.Background(), scenario.Quiet, 0)
	assert.NoError(t, err)
	ownOp := make(chan struct{})
	r.measure(func() {}, func() {
		go a.op(&rank{}, nil, func() { close(ownOp) })
		time.Sleep(50 * time.Millisecond)
		select {
		case <-ownOp:
			t.Error("an op ran beside the process's own timed measurement")
		default:
		}
	})
	r.end()
	select {
	case <-ownOp:
	case <-time.After(5 * time.Second):
		t.Error("the op never ran after the process's own measurement")
	}
}

// The pacer admits a run by its planned row: the class and weight Lab.Run
// plans (Row) are the ones its runtime hands the pacer.
func TestPacerTakesTheRow(t *testing.T) {
	for _, set := range []scenario.Knobs{{"impair.rtt": "0s"}, nil, {"impair.probe_bulk": "1000000"}} {
		r, err := Row("latency-bdp", set)
		if err != nil {
			t.Fatal(err)
		}
		d := (&Lab{}).runtime(r)
		assert.Equal(t, r.Load, d.load, "%v", set)
		assert.Equal(t, r.Weight, d.weight, "%v", set)
		assert.Equal(t, r.Knobs, d.pub.knobs, "the host probe judges with the row's knobs")
	}
}
