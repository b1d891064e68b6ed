package runner

import (
	"sync/atomic"
	"time"
)

// watchTick is how long the lateness watch sleeps at a time: 200 wake-ups
// a second, nothing beside a scenario's own work.
const watchTick = 5 * time.Millisecond

// lateWatch records how much later than asked this process's timers fire:
// a goroutine sleeps watchTick at a time and keeps the largest oversleep.
// A role the runner descheduled for 90 ms makes a pause it times 90 ms
// longer (read-partial's did, on a busy runner), and no delay line's
// counters see that; a failed run whose roles' timers ran late is measured
// again, as one whose delay line did (harness, impair.LateBound).
type lateWatch struct {
	maxNS atomic.Int64
	stop  chan struct{}
}

// watchLateness starts a watch; Stop ends it.
func watchLateness() *lateWatch {
	w := &lateWatch{stop: make(chan struct{})}
	go func() {
		t := time.NewTimer(watchTick)
		defer t.Stop()
		for {
			asked := time.Now()
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			if late := int64(time.Since(asked) - watchTick); late > w.maxNS.Load() {
				w.maxNS.Store(late)
			}
			t.Reset(watchTick)
		}
	}()
	return w
}

// Max is the largest oversleep so far, in ms to 0.01.
func (w *lateWatch) Max() float64 { return msFine(time.Duration(w.maxNS.Load())) }

// Stop ends the watch and returns Max.
func (w *lateWatch) Stop() float64 {
	close(w.stop)
	return w.Max()
}
