//go:build linux

package netimpair_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/vishvananda/netns"

	"github.com/tcplab/tcplab/lab/netimpair"
	"github.com/tcplab/tcplab/lab/scenario"
)

// LossOut drops packets out of the target as a wire would. Of n packets
// its rules saw, the dropped count is Binomial(n, p) (the interval fails a
// correct line with probability ≤ 1e-4), nothing into the target is
// dropped, and the target's TCP retransmits each dropped packet: its
// RetransSegs grows by at least the drops. (A rule that dropped them
// itself would fail that: TCP sees such a drop as a send that failed, and
// sends the segment again as new.) Set changes the fraction in place with
// the counts going on; Set without it removes its table and drops nothing
// more.
func TestLossOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctr, addr := httpService(t, ctx)
	hc := newHTTPClient(t, addr)
	const (
		rtt  = 10 * time.Millisecond
		p    = 0.1
		size = 1 << 20
	)
	h := netimpair.AttachForTest(t, ctr, netimpair.RTT(rtt), netimpair.LossOut(p))
	t.Logf("attached: %s", h)
	r0 := retransSegs(t, ctx, ctr)
	hc.throughput(size)
	// Requests on four connections at once: each reply is about one
	// packet out, and a thousand packets tell half or twice p from p.
	t.Run("requests", func(t *testing.T) {
		for i := range 4 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				newHTTPClient(t, addr).latencies(300)
			})
		}
	})
	lat := hc.latencies(50)
	c1, err := h.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r1 := retransSegs(t, ctx, ctr)
	n, k := int(c1.SentOut), int(c1.DroppedOut)
	lo, hi := scenario.BinomialRange(n, p, 1e-4)
	if float64(n)*p/2 >= float64(lo) || float64(n)*p*2 <= float64(hi) {
		t.Fatalf("%d packets out: the interval %d … %d would pass half or twice the loss %g", n, lo, hi, p)
	}
	if k < lo || k > hi {
		t.Errorf("loss out %g: %d of %d packets dropped, want %d … %d", p, k, n, lo, hi)
	} else {
		t.Logf("loss out %g: %d of %d packets dropped (%.2f %%), interval %d … %d at 1e-4", p, k, n, 100*float64(k)/float64(n), lo, hi)
	}
	if c1.Dropped != 0 {
		t.Errorf("loss out only: %d packets into the target dropped, want 0", c1.Dropped)
	}
	if r1-r0 < uint64(k) {
		t.Errorf("the target retransmitted %d segments for %d packets dropped on their way out: TCP did not take them for lost", r1-r0, k)
	} else {
		t.Logf("the target retransmitted %d segments for %d packets dropped", r1-r0, k)
	}
	slices.Sort(lat)
	if lat[0] < rtt {
		t.Errorf("requests with loss out: min %v, under the RTT %v", lat[0], rtt)
	}
	t.Logf("requests with loss out %g at +%v: min %v, p50 %v, max %v", p, rtt, lat[0], lat[len(lat)/2], lat[len(lat)-1])

	if err := h.Set(ctx, netimpair.RTT(rtt), netimpair.LossOut(0.02)); err != nil {
		t.Fatal(err)
	}
	hc.throughput(size)
	c2, err := h.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c2.SentOut <= c1.SentOut || c2.DroppedOut < c1.DroppedOut {
		t.Errorf("after Set(LossOut(0.02)) the counts went from %d of %d to %d of %d: want them to go on", c1.DroppedOut, c1.SentOut, c2.DroppedOut, c2.SentOut)
	}

	if err := h.Set(ctx, netimpair.RTT(rtt)); err != nil {
		t.Fatal(err)
	}
	if !inNetns(t, ctx, ctr, func(ns netns.NsHandle) {
		if ts := tables(t, ns); slices.ContainsFunc(ts, func(s string) bool { return strings.HasSuffix(s, "_out") }) {
			t.Errorf("after Set without LossOut, tables %v: want its table gone", ts)
		}
	}) {
		t.Log("the target's namespace cannot be entered here: its tables not read")
	}
	hc.throughput(size)
	hc.latencies(50)
	c3, err := h.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c3.DroppedOut != c2.DroppedOut || c3.SentOut != c2.SentOut {
		t.Errorf("after Set without LossOut: %d of %d dropped, was %d of %d: want nothing more", c3.DroppedOut, c3.SentOut, c2.DroppedOut, c2.SentOut)
	}
}

// retransSegs reads the target's Tcp RetransSegs, from /proc/PID/net/snmp
// of its first process (its network namespace's).
func retransSegs(t *testing.T, ctx context.Context, ctr testcontainers.Container) uint64 {
	t.Helper()
	st, err := ctr.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/snmp", st.Pid))
	if err != nil {
		t.Fatalf("the target's TCP counters: %v", err)
	}
	defer f.Close()
	var names []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != "Tcp:" {
			continue
		}
		if names == nil {
			names = fields
			continue
		}
		if i := slices.Index(names, "RetransSegs"); i > 0 && i < len(fields) {
			n, err := strconv.ParseUint(fields[i], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Tcp RetransSegs in the target's /proc/net/snmp")
	return 0
}
