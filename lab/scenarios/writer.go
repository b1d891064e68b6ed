package scenarios

import (
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// A writer goroutine the write scenarios watch from outside while its Write blocks.

// writer issues chunk-sized Writes on c in its own goroutine until one
// fails, so the driver can watch the writes from outside while one blocks.
type writer struct {
	done   atomic.Int64 // bytes of Writes that returned without error
	writes atomic.Int64 // Writes that returned without error
	last   chan wresult // the Write that failed
	start  time.Time
	// progress is [ms since start, bytes the kernel accepted], sampled by
	// blocked whenever the count moved: the fill curve up to the block.
	progress [][2]float64
}

type wresult struct {
	n    int
	err  error
	took time.Duration // how long that Write call took
	at   time.Time
}

// startWriter starts writing; each Write gets a deadline of perWrite from
// its start when perWrite > 0.
func startWriter(c net.Conn, chunk int, perWrite time.Duration) *writer {
	w := &writer{last: make(chan wresult, 1), start: time.Now()}
	buf := make([]byte, chunk)
	go func() {
		for {
			start := time.Now()
			if perWrite > 0 {
				if err := c.SetWriteDeadline(start.Add(perWrite)); err != nil {
					w.last <- wresult{err: err, at: time.Now()}
					return
				}
			}
			n, err := c.Write(buf)
			if err != nil {
				w.last <- wresult{n: n, err: err, took: time.Since(start), at: time.Now()}
				return
			}
			w.done.Add(int64(n))
			w.writes.Add(1)
		}
	}()
	return w
}

// blocked waits until the writer is stuck in a Write: neither its completed
// bytes nor the kernel's accepted bytes move for quiet. Before the buffers
// are full data moves at memory speed, so a quiet period of a few hundred
// ms only happens when the Write is parked waiting for buffer space. It
// fails if a Write returns an error first or nothing blocks within max.
func (w *writer) blocked(e *scenario.Env, c net.Conn, quiet, max time.Duration) (acc int, since time.Time, err error) {
	end := time.Now().Add(max)
	last, lastDone := -1, int64(-1)
	since = time.Now()
	for {
		select {
		case r := <-w.last:
			w.last <- r
			return 0, since, fmt.Errorf("a Write failed before the writer blocked: n=%d: %w", r.n, r.err)
		default:
		}
		if acc, err = accepted(c); err != nil {
			return 0, since, err
		}
		if done := w.done.Load(); acc != last || done != lastDone {
			if acc != last && len(w.progress) < 2000 {
				w.progress = append(w.progress, [2]float64{scenario.Ms(time.Since(w.start)), float64(acc)})
			}
			last, lastDone, since = acc, done, time.Now()
		} else if time.Since(since) >= quiet {
			return acc, since, nil
		}
		if time.Now().After(end) || e.Ctx.Err() != nil {
			return 0, since, fmt.Errorf("the Write never blocked: %d bytes accepted after %v", acc, max)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// result waits for the failing Write, bounded by max.
func (w *writer) result(max time.Duration) (wresult, error) {
	select {
	case r := <-w.last:
		return r, nil
	case <-time.After(max):
		return wresult{}, fmt.Errorf("the blocked Write did not return within %v", max)
	}
}
