package scenarios

import (
	"testing"
	"time"
)

// jiffyOf reads the HZ off tcpi_rto as the kernel computes it: 200 ms +
// the RTT rounded up to whole jiffies, reported in µs.
func TestJiffyOf(t *testing.T) {
	for _, c := range []struct {
		rto, rtt int
		want     time.Duration
	}{
		{204000, 87, 4 * time.Millisecond},   // HZ=250
		{201000, 87, time.Millisecond},       // HZ=1000
		{210000, 87, 10 * time.Millisecond},  // HZ=100
		{203333, 87, time.Second / 300},      // HZ=300: jiffies_to_usecs truncates
		{208000, 5000, 4 * time.Millisecond}, // a 5 ms RTT: two jiffies at HZ=250
		{208000, 87, 0},                      // no HZ gives it
		{240000, 40000, 0},                   // every HZ gives it: no answer
	} {
		if got := jiffyOf(c.rto, c.rtt); got != c.want {
			t.Errorf("jiffyOf(%d, %d) = %v, want %v", c.rto, c.rtt, got, c.want)
		}
	}
}
