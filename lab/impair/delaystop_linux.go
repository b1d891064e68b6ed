package impair

import (
	"time"

	"github.com/google/nftables"
)

// How the delay line's stop knows the flow paused (stop, in
// delayline_linux.go).

// A stop waits for stopPause without a queued packet before the rules go:
// a TCP flow pauses at the latest when it ends or waits on its window.
// Past stopPauseMax (a flow that never pauses) the rules go anyway; it
// stays well inside Docker's 10 s between SIGTERM and SIGKILL.
const (
	stopPause    = 20 * time.Millisecond
	stopPauseMax = 5 * time.Second
)

// waitPause returns once no packet came for pause, or after max. Came
// means read by this program, or, when arrivals can say, queued by the
// kernel: a reader stalled for pause on a busy machine reads nothing while
// the socket fills, and the rules must not go then (every unread packet
// would be overtaken), so a pause also needs every packet the kernel
// queued to have been read.
func (l *delayLine) waitPause(pause, max time.Duration, arrivals func() (uint64, bool)) {
	came := func() (n uint64, allRead bool) {
		read := l.queued.Load()
		if arrivals != nil {
			if k, ok := arrivals(); ok {
				return k, k <= read
			}
		}
		return read, true
	}
	last, _ := came()
	for end := time.Now().Add(max); time.Now().Before(end); {
		time.Sleep(pause)
		n, allRead := came()
		if n == last && allRead {
			return
		}
		last = n
	}
}

// arrivals is how many packets the kernel queued to the line (its queue
// rules' counters); false when they cannot be read.
func (l *delayLine) arrivals() (uint64, bool) {
	c, err := nftables.New()
	if err != nil {
		return 0, false
	}
	seen, queued, err := ruleCounts(c, &nftables.Table{Family: nftables.TableFamilyIPv4, Name: l.table}, "prerouting")
	return seen + queued, err == nil
}
