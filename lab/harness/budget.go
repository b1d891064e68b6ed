package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrBudget means a run used up its own time: the time it worked, from the
// pacer's admission on, not counting its waits for the pacer. The wait for
// a place has a bound of its own (ErrQueued).
var ErrBudget = errors.New("the run used up its time budget")

// budget is a run's own time. Its context ends when the run has worked
// for d; while the run waits for the pacer (an op's turn, a batch of
// measurements) the clock stops, so a run that waits its turn behind
// others never fails for it: its deadline counts from its own work.
type budget struct {
	mu     sync.Mutex
	d      time.Duration // the whole budget, for messages
	left   time.Duration // work time left when the current stretch began
	since  time.Time     // when the current working stretch began
	paused int           // waits in progress (ops of one run may wait side by side)
	timer  *time.Timer
	cancel context.CancelCauseFunc
	done   bool
}

// newBudget starts the clock: ctx's child ends when d of work is used up
// (context.Cause is then ErrBudget), or with ctx.
func newBudget(ctx context.Context, d time.Duration) (context.Context, *budget) {
	ctx, cancel := context.WithCancelCause(ctx)
	b := &budget{d: d, left: d, since: time.Now(), cancel: cancel}
	b.timer = time.AfterFunc(d, b.expire)
	return ctx, b
}

func (b *budget) expire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done || b.paused > 0 {
		return // resume re-arms the timer
	}
	if left := b.left - time.Since(b.since); left > 0 {
		b.timer.Reset(left) // a pause moved the deadline
		return
	}
	b.done = true
	b.cancel(fmt.Errorf("%w (%v of its own work)", ErrBudget, b.d))
}

// pause stops the clock while the run waits for the pacer.
func (b *budget) pause() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.paused == 0 {
		b.left -= time.Since(b.since)
		b.timer.Stop()
	}
	b.paused++
}

// resume starts the clock again after a wait.
func (b *budget) resume() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.paused--
	if b.paused == 0 && !b.done {
		b.since = time.Now()
		b.timer.Reset(max(b.left, 0))
	}
}

// used is the work time so far.
func (b *budget) used() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	used := b.d - b.left
	if b.paused == 0 {
		used += time.Since(b.since)
	}
	return used
}

// stop releases the timer and the context.
func (b *budget) stop() {
	b.mu.Lock()
	b.done = true
	b.timer.Stop()
	b.mu.Unlock()
	b.cancel(context.Canceled)
}
