//go:build linux

package netimpair_test

import (
	"fmt"
	"net"
	"runtime"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkWakeFloor is the machine's floor under BenchmarkCompare's
// request latencies: no container, no delay line, one loopback TCP
// connection whose server answers each byte after sleeping d (nanosleep on
// a thread of its own, as the delay line's releaser does). What a reply
// takes over d is what waking up costs here after d of idle: the timer's
// wake, then the client's. A delay line adds one more wake (the target's
// server), so its requests cannot come closer to the RTT than this.
//
//	go test ./lab/netimpair -run '^$' -bench WakeFloor -benchtime 200x
func BenchmarkWakeFloor(b *testing.B) {
	for _, d := range []time.Duration{0, time.Millisecond, 10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond} {
		b.Run(fmt.Sprintf("sleep=%v", d), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				runtime.LockOSThread()
				buf := make([]byte, 1)
				ts := unix.NsecToTimespec(int64(d))
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
					if d > 0 {
						_ = unix.Nanosleep(&ts, nil)
					}
					if _, err := c.Write(buf); err != nil {
						return
					}
				}
			}()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if err := c.SetDeadline(time.Now().Add(time.Duration(b.N)*(d+time.Second) + time.Minute)); err != nil {
				b.Fatal(err)
			}
			over := make([]time.Duration, 0, b.N)
			buf := make([]byte, 1)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
				if _, err := c.Read(buf); err != nil {
					b.Fatal(err)
				}
				over = append(over, time.Since(t0)-d)
			}
			b.StopTimer()
			slices.Sort(over)
			b.ReportMetric(ms(pct(over, 50)), "over-p50-ms")
			b.ReportMetric(ms(pct(over, 99)), "over-p99-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}
