//go:build linux

package netimpair_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/netimpair"
	"github.com/tcplab/tcplab/lab/runner"
	"github.com/tcplab/tcplab/lab/tcpmodel"
)

func TestMain(m *testing.M) {
	// This machine's rules: no reaper (it cannot be pulled), and never the
	// default gateway.
	for k, v := range map[string]string{"TESTCONTAINERS_RYUK_DISABLED": "true", "TESTCONTAINERS_HOST_OVERRIDE": "localhost"} {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	tclog.SetDefault(tclog.NewNoopLogger())
	if target := os.Getenv(ownerEnv); target != "" {
		orphanOwner(target) // TestOrphan's child: never returns
	}
	os.Exit(m.Run())
}

// daemonArch is the daemon's architecture for the images the tests build;
// the test skips when Docker is not reachable.
func daemonArch(t testing.TB, ctx context.Context) string {
	t.Helper()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Skipf("Docker is not reachable: %v", err)
	}
	info, err := cli.Info(ctx, client.InfoOptions{})
	cli.Close()
	if err != nil {
		t.Skipf("Docker is not reachable: %v", err)
	}
	p, err := harness.DaemonPlatform(info.Info.OSType, info.Info.Architecture)
	if err != nil {
		t.Skip(err)
	}
	return p.Arch
}

// service starts a stand-in for a user's service, not a lab scenario's
// topology: the lab binary serving its echo port (7002) on a fresh
// network, with no agent and no route cut. It returns the container and
// the echo address, which this (Linux) host reaches directly.
func service(t *testing.T, ctx context.Context, opts ...testcontainers.ContainerCustomizer) (testcontainers.Container, string) {
	t.Helper()
	arch := daemonArch(t, ctx)
	image, err := harness.Image(ctx, arch)
	if err != nil {
		t.Fatal(err)
	}
	nw := testNetwork(t, ctx)
	all := append([]testcontainers.ContainerCustomizer{
		testcontainers.WithCmd("serve", "latency-dial", "-lifetime", "5m", "impair.rtt=10ms"), // impair.* makes it serve the echo port
		testcontainers.WithWaitStrategy(wait.ForLog(runner.ReadyLine).WithStartupTimeout(30 * time.Second)),
		tcnetwork.WithNetwork(nil, nw),
	}, opts...)
	ctr, err := testcontainers.Run(ctx, image, all...)
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatal(err)
	}
	ip, err := ctr.ContainerIP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ctr, net.JoinHostPort(ip, "7002")
}

// echoConn dials the echo port and returns the connection and its connect time.
func echoConn(t *testing.T, addr string) (net.Conn, time.Duration) {
	t.Helper()
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte{'e'}); err != nil {
		t.Fatal(err)
	}
	return c, took
}

// echoes makes n one-byte round trips on c and returns each one's time.
func echoes(t *testing.T, c net.Conn, n int) []time.Duration {
	t.Helper()
	out := make([]time.Duration, 0, n)
	b := []byte{'x'}
	for range n {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatal(err)
		}
		out = append(out, time.Since(start))
	}
	return out
}

// within checks every time against the lab's bound for an added RTT:
// never early, at most +10 % + 6 ms (lab/scenario/network_verdict.go).
func within(t *testing.T, what string, rtt time.Duration, got ...time.Duration) {
	t.Helper()
	hi := tcpmodel.LateBound(rtt, 0.1, 6*time.Millisecond)
	got = slices.Sorted(slices.Values(got))
	// None early (the delay line never releases before its time); the
	// median within the bound, since one echo whose process was
	// descheduled moves the max, not the network (61–67 ms of 20 at
	// +40 ms beside another package's containers starting, median 40.9).
	if p50 := got[len(got)/2]; got[0] < rtt || p50 > hi {
		t.Errorf("%s: min %v, p50 %v, want ≥ %v and p50 ≤ %v (all: %v)", what, got[0], p50, rtt, hi, got)
		return
	}
	t.Logf("%s: min %v, p50 %v, max %v (want ≥ %v, p50 ≤ %v)", what, got[0], got[len(got)/2], got[len(got)-1], rtt, hi)
}

// baseline checks times against an unimpaired network's: the median, for
// the reason within gives.
func baseline(t *testing.T, what string, got ...time.Duration) {
	t.Helper()
	got = slices.Sorted(slices.Values(got))
	if p50 := got[len(got)/2]; p50 > 5*time.Millisecond {
		t.Errorf("%s: p50 %v, want the unimpaired network's (< 5 ms; all: %v)", what, p50, got)
		return
	}
	t.Logf("%s: p50 %v, max %v", what, got[len(got)/2], got[len(got)-1])
}

// inNetns runs f in ctr's network namespace (needs root); ok false when
// this process may not.
func inNetns(t *testing.T, ctx context.Context, ctr testcontainers.Container, f func(ns netns.NsHandle)) bool {
	t.Helper()
	st, err := ctr.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := netns.GetFromPid(st.Pid)
	if err != nil {
		return false
	}
	defer ns.Close()
	f(ns)
	return true
}

func tables(t *testing.T, ns netns.NsHandle) []string {
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := c.ListTables()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range ts {
		names = append(names, tb.Name)
	}
	return names
}

func rootQdiscs(t *testing.T, ns netns.NsHandle) []string {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	l, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	qs, err := h.QdiscList(l)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, q := range qs {
		if q.Attrs().Parent == netlink.HANDLE_ROOT {
			out = append(out, fmt.Sprintf("%s %x:", q.Type(), q.Attrs().Handle>>16))
		}
	}
	return out
}

// TestAttachSetClose attaches to a service that is not the lab's, checks
// the handshake and every round trip against the asked RTT, changes it
// under an established connection, and checks Close leaves the container
// as it was.
func TestAttachSetClose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctr, addr := service(t, ctx)

	c0, took := echoConn(t, addr)
	defer c0.Close()
	baseline(t, "connect before", took)
	baseline(t, "round trips before", echoes(t, c0, 10)...)

	// A table the user made: the sidecar must leave it alone.
	root := inNetns(t, ctx, ctr, func(ns netns.NsHandle) {
		c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
		if err != nil {
			t.Fatal(err)
		}
		c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "users_own"})
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
	})

	const rtt = 40 * time.Millisecond
	h, err := netimpair.Attach(ctx, ctr, netimpair.RTT(rtt))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	t.Logf("attached: %s", h)
	if _, err := netimpair.Attach(ctx, ctr, netimpair.RTT(rtt)); !errors.Is(err, netimpair.ErrAttached) {
		t.Errorf("a second Attach: %v, want ErrAttached", err)
	}

	var connects []time.Duration
	for range 5 {
		c, took := echoConn(t, addr)
		connects = append(connects, took)
		c.Close()
	}
	within(t, "connect at +40 ms", rtt, connects...)
	c1, _ := echoConn(t, addr)
	defer c1.Close()
	within(t, "round trips at +40 ms", rtt, echoes(t, c1, 20)...)
	within(t, "round trips at +40 ms, connection made before Attach", rtt, echoes(t, c0, 5)...)

	const rtt2 = 90 * time.Millisecond
	if err := h.Set(ctx, netimpair.RTT(rtt2)); err != nil {
		t.Fatal(err)
	}
	within(t, "round trips after Set(+90 ms), same connection", rtt2, echoes(t, c1, 10)...)
	c2, took := echoConn(t, addr)
	c2.Close()
	within(t, "connect after Set(+90 ms)", rtt2, took)

	cs, err := h.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("counters: %+v", cs)
	if h.Mechanism() == netimpair.DelayLine && (cs.Queued == 0 || cs.Released == 0 || cs.Dropped != 0 || cs.Failure != "") {
		t.Errorf("counters %+v: want packets queued and released, none dropped, no failure", cs)
	}
	if root {
		inNetns(t, ctx, ctr, func(ns netns.NsHandle) {
			if ts := tables(t, ns); !slices.Contains(ts, "users_own") || !slices.Contains(ts, "netimpair_delay") && h.Mechanism() == netimpair.DelayLine {
				t.Errorf("tables while attached: %v, want the user's and netimpair_delay", ts)
			}
		})
	}

	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	baseline(t, "round trips after Close, same connection", echoes(t, c1, 10)...)
	c3, took := echoConn(t, addr)
	c3.Close()
	baseline(t, "connect after Close", took)

	if n := sidecarsOf(t, ctx, ctr.GetContainerID()); n != 0 {
		t.Errorf("%d sidecars left after Close", n)
	}
	if root {
		inNetns(t, ctx, ctr, func(ns netns.NsHandle) {
			ts := tables(t, ns)
			if !slices.Contains(ts, "users_own") || slices.ContainsFunc(ts, func(s string) bool { return strings.HasPrefix(s, "netimpair") }) {
				t.Errorf("tables after Close: %v, want the user's and no netimpair*", ts)
			}
			if qs := rootQdiscs(t, ns); slices.ContainsFunc(qs, func(s string) bool { return strings.HasSuffix(s, " 7f:") }) {
				t.Errorf("root qdiscs after Close: %v, want none of netimpair's (7f:)", qs)
			}
		})
	} else {
		t.Log("not root: the namespace's tables and qdiscs were not inspected")
	}
}

// testNetwork is a fresh internal network, labelled as this package's
// tests' and removed at the test's end.
func testNetwork(t testing.TB, ctx context.Context) *testcontainers.DockerNetwork {
	t.Helper()
	nw, err := tcnetwork.New(ctx, tcnetwork.WithInternal(), tcnetwork.WithLabels(map[string]string{"tcplab.netimpair.test": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := nw.Remove(context.Background()); err != nil {
			t.Errorf("removing the network: %v", err)
		}
	})
	return nw
}
