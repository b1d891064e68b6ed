package impair

import "time"

// The delay line's lateness account: how late each release came after its
// due time, in a histogram fine enough for a p99 of a millisecond.

// lateHistStep is the resolution of the lateness histogram, lateBuckets
// its range (the last bucket holds everything later, and reads as max).
const (
	lateHistStep = 50 * time.Microsecond
	lateBuckets  = 400
)

// p99Late is the 99th percentile of the released packets' lateness: the
// top of its histogram bucket, or the maximum beyond the histogram.
func (l *delayLine) p99Late() int64 {
	var counts [lateBuckets + 1]uint64
	var n uint64
	for i := range counts {
		counts[i] = l.lateHist[i].Load()
		n += counts[i]
	}
	if n == 0 {
		return 0
	}
	rank := (n*99 + 99) / 100 // ceil(0.99 n)
	var seen uint64
	for i, c := range counts {
		if seen += c; seen >= rank {
			if i == lateBuckets {
				return l.maxLate.Load()
			}
			return min((time.Duration(i+1) * lateHistStep).Microseconds(), max(l.maxLate.Load(), 0))
		}
	}
	return l.maxLate.Load()
}
