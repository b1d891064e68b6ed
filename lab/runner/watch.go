package runner

import (
	"sync/atomic"
	"time"
)

// watchTick is how long the lateness watch sleeps at a time: 200 wake-ups
// a second, nothing beside a scenario's own work.
const watchTick = 5 * time.Millisecond

// lateWatch records how much later than due this process's timers fire:
// a goroutine sleeps watchTick at a time and keeps the largest lateness.
// A role the runner descheduled for 90 ms makes a pause it times 90 ms
// longer (read-partial's did, on a busy runner), and no delay line's
// counters see that; a failed run whose roles' timers ran late is measured
// again, as one whose delay line did (harness, impair.LateBound).
type lateWatch struct {
	maxNS      atomic.Int64
	stop, done chan struct{}
}

// watchLateness starts a watch; Stop ends it.
func watchLateness() *lateWatch {
	w := &lateWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		// Each sleep is due watchTick after the last wake-up was seen, so
		// a stall anywhere in the loop (before the timer is set, while it
		// runs, or before its wake-up is seen) makes a wake-up late.
		due := time.Now().Add(watchTick)
		t := time.NewTimer(watchTick)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				w.note(time.Since(due)) // a stall Stop cut short counts too
				return
			case <-t.C:
			}
			now := time.Now()
			w.note(now.Sub(due))
			due = now.Add(watchTick)
			t.Reset(time.Until(due))
		}
	}()
	return w
}

func (w *lateWatch) note(late time.Duration) {
	if int64(late) > w.maxNS.Load() {
		w.maxNS.Store(int64(late))
	}
}

// Max is the largest lateness so far, in ms to 0.01.
func (w *lateWatch) Max() float64 { return msFine(time.Duration(w.maxNS.Load())) }

// Stop ends the watch, once its last wait is counted, and returns Max.
func (w *lateWatch) Stop() float64 {
	close(w.stop)
	<-w.done
	return w.Max()
}
