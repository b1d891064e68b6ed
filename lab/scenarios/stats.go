package scenarios

import (
	"cmp"
	"slices"
	"time"
)

// Recorded figures: their units, and the statistics the drivers and
// verdicts take of them.

// fromMS is a figure recorded in ms as a duration. The other way is
// scenario.Ms (to 0.1 ms), or msOf where a latency figure needs 0.01 ms.
func fromMS(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// msOf is a duration in ms to 0.01 ms, for latency figures.
func msOf(d time.Duration) float64 { return float64(d.Microseconds()/10) / 100 }

// quantile of sorted values (nearest rank); 0 for none.
func quantile[T cmp.Ordered](sorted []T, q float64) T {
	if len(sorted) == 0 {
		var zero T
		return zero
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// sortedCopy is v sorted, v left as it is.
func sortedCopy[T cmp.Ordered](v []T) []T {
	out := slices.Clone(v)
	slices.Sort(out)
	return out
}

// median is the median of xs (the mean of the middle two for an even
// count), for a headline; the verdicts judge quantile's nearest rank.
func median(xs []float64) float64 {
	s := sortedCopy(xs)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// mode is the most common value of xs and how often it occurs.
func mode(xs []int) (v, count int) {
	seen := map[int]int{}
	for _, x := range xs {
		seen[x]++
		if seen[x] > count || (seen[x] == count && x < v) {
			v, count = x, seen[x]
		}
	}
	return v, count
}
