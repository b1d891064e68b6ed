//go:build linux

package netimpair_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/tcplab/tcplab/lab/netimpair"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/tcpmodel"
)

// httpService builds testdata/httpserver (static, CGO_ENABLED=0) into an
// image FROM scratch, starts it on a fresh internal network and returns
// it and its address, which this (Linux) host reaches directly. Nothing
// of the lab is in it.
func httpService(t testing.TB, ctx context.Context) (testcontainers.Container, string) {
	t.Helper()
	return httpServiceSysctls(t, ctx, nil)
}

// httpServiceSysctls is httpService with the container's sysctls set.
func httpServiceSysctls(t testing.TB, ctx context.Context, sysctls map[string]string) (testcontainers.Container, string) {
	t.Helper()
	arch := daemonArch(t, ctx)
	dir := t.TempDir()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(dir, "httpserver"), "./testdata/httpserver")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building testdata/httpserver: %v\n%s", err, out)
	}
	df := "FROM scratch\nCOPY httpserver /httpserver\nENTRYPOINT [\"/httpserver\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	nw := testNetwork(t, ctx)
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			FromDockerfile: testcontainers.FromDockerfile{Context: dir}, // removed with the container
			Labels:         map[string]string{"tcplab.netimpair.test": "1"},
			Networks:       []string{nw.Name},
			HostConfigModifier: func(hc *container.HostConfig) {
				hc.Sysctls = sysctls
			},
			WaitingFor: wait.ForLog("httpserver: listening").WithStartupTimeout(30 * time.Second),
		},
		Started: true,
	})
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatal(err)
	}
	ip, err := ctr.ContainerIP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ctr, net.JoinHostPort(ip, "8080")
}

// httpClient keeps one connection to the service and says which it is.
type httpClient struct {
	t     testing.TB
	base  string
	c     *http.Client
	tr    *http.Transport
	local string // the kept connection's local address: the target's peer
}

func newHTTPClient(t testing.TB, addr string) *httpClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &httpClient{t: t, base: "http://" + addr, tr: tr, c: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// get fetches path on the kept connection and returns the time from
// writing the request to its last byte, and the bytes read.
func (hc *httpClient) get(path string) (time.Duration, int64) {
	hc.t.Helper()
	var start time.Time
	reused := false
	trace := &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) {
			reused = i.Reused
			hc.local = i.Conn.LocalAddr().String()
		},
		WroteRequest: func(httptrace.WroteRequestInfo) { start = time.Now() },
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", hc.base+path, nil)
	if err != nil {
		hc.t.Fatal(err)
	}
	resp, err := hc.c.Do(req)
	if err != nil {
		hc.t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	took := time.Since(start)
	if err != nil || resp.StatusCode != 200 {
		hc.t.Fatalf("GET %s: %s, %v", path, resp.Status, err)
	}
	if !reused && path == "/" {
		hc.get("/") // the first request on a connection also waited for its handshake
		return hc.get(path)
	}
	return took, n
}

// latencies makes n requests for "/" on the kept connection.
func (hc *httpClient) latencies(n int) []time.Duration {
	out := make([]time.Duration, 0, n)
	for range n {
		d, _ := hc.get("/")
		out = append(out, d)
	}
	return out
}

// throughput downloads size bytes on the kept connection.
func (hc *httpClient) throughput(size int) (time.Duration, float64) {
	d, n := hc.get(fmt.Sprintf("/bytes?n=%d", size))
	if n != int64(size) {
		hc.t.Fatalf("downloaded %d bytes, want %d", n, size)
	}
	return d, float64(n) / d.Seconds()
}

// connects dials the service n times (each a fresh handshake).
func connects(t testing.TB, addr string, n int) []time.Duration {
	t.Helper()
	out := make([]time.Duration, 0, n)
	for range n {
		c, took := echoConnNoWrite(t, addr)
		c.Close()
		out = append(out, took)
	}
	return out
}

func echoConnNoWrite(t testing.TB, addr string) (net.Conn, time.Duration) {
	t.Helper()
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	return c, took
}

// rttOf is the target's own measure of the kept connection.
func rttOf(t *testing.T, ctx context.Context, h *netimpair.Handle, peer string) netimpair.ConnRTT {
	t.Helper()
	r, err := h.RTT(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Conns {
		if c.Remote.String() == peer {
			return c
		}
	}
	t.Fatalf("RTT: no connection with %s among %+v", peer, r.Conns)
	return netimpair.ConnRTT{}
}

// TestHTTPService puts an RTT, a change of it and loss in front of a
// plain HTTP service and measures, from the host, what a client sees:
// connect time, request latency and throughput.
func TestHTTPService(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ctr, addr := httpService(t, ctx)
	hc := newHTTPClient(t, addr)
	const size = 4 << 20

	baseline(t, "connect, no impairment", connects(t, addr, 5)...)
	baseline(t, "requests, no impairment", hc.latencies(20)...)
	d, bps := hc.throughput(size)
	t.Logf("throughput, no impairment: %d bytes in %v, %.0f MB/s", size, d, bps/1e6)

	const rtt = 50 * time.Millisecond
	// The bound judges the mechanism, not the machine: a hold is never
	// early and is late by at most 10 % + 6 ms (docs/impairment.md), which
	// is below the RTT, so a doubled or a halved RTT fails it.
	for _, r := range []time.Duration{rtt, 10 * time.Millisecond} {
		if hi := tcpmodel.LateBound(r, 0.1, 6*time.Millisecond); hi >= 2*r {
			t.Fatalf("the bound %v at %v would pass twice the RTT", hi, r)
		}
	}
	h := netimpair.AttachForTest(t, ctr, netimpair.RTT(rtt))
	t.Logf("attached: %s", h)
	within(t, "connect at +50 ms", rtt, connects(t, addr, 5)...)
	within(t, "requests at +50 ms, connection made before Attach", rtt, hc.latencies(20)...)
	// A new connection: the kernel's min_rtt of the old one keeps its
	// unimpaired samples (a 5-minute window).
	hc.tr.CloseIdleConnections()
	within(t, "requests at +50 ms, connection made after Attach", rtt, hc.latencies(20)...)
	d, bps = hc.throughput(size)
	if d < rtt {
		t.Errorf("throughput at +50 ms: %d bytes in %v, under one RTT", size, d)
	}
	t.Logf("throughput at +50 ms: %d bytes in %v, %.1f MB/s", size, d, bps/1e6)
	c := rttOf(t, ctx, h, hc.local)
	within(t, "the target's min_rtt at +50 ms", rtt, c.MinRTT)
	t.Logf("the target's measure of the connection at +50 ms: srtt %v ± %v, min %v", c.SRTT, c.RTTVar, c.MinRTT)

	const rtt2 = 10 * time.Millisecond
	if err := h.Set(ctx, netimpair.RTT(rtt2)); err != nil {
		t.Fatal(err)
	}
	within(t, "requests after Set(+10 ms), same connection", rtt2, hc.latencies(20)...)
	within(t, "connect after Set(+10 ms)", rtt2, connects(t, addr, 5)...)
	d, bps = hc.throughput(size)
	t.Logf("throughput at +10 ms: %d bytes in %v, %.1f MB/s", size, d, bps/1e6)
	c = rttOf(t, ctx, h, hc.local)
	within(t, "the target's min_rtt after Set(+10 ms)", rtt2, c.MinRTT)
	t.Logf("the target's measure of the connection after Set(+10 ms): srtt %v ± %v, min %v", c.SRTT, c.RTTVar, c.MinRTT)

	// Loss: each packet into the target is dropped with probability p, so
	// of n queued, the dropped count is Binomial(n, p); the acceptance
	// interval fails a correct delay line with probability ≤ 1e-4. The
	// packets are mostly the client's ACKs of downloads, whose loss TCP
	// hardly notices.
	const p = 0.1
	if err := h.Set(ctx, netimpair.RTT(rtt2), netimpair.Loss(p)); err != nil {
		t.Fatal(err)
	}
	c0, err := h.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Downloads travel in few, large segments (TSO/GRO: 3 of 4 MB gave
	// 243 packets into the target); each small request is one more.
	for range 3 {
		hc.throughput(size)
	}
	lat := hc.latencies(150)
	c1, err := h.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Mechanism() == netimpair.DelayLine {
		if c1.Queued < c0.Queued {
			c0 = netimpair.Counters{} // Set restarted the line
		}
		n, k := int(c1.Queued-c0.Queued), int(c1.Dropped-c0.Dropped)
		lo, hi := scenario.BinomialRange(n, p, 1e-4)
		if n < 300 || k < lo || k > hi {
			t.Errorf("loss %g: %d of %d packets dropped, want %d … %d (and ≥ 300 packets)", p, k, n, lo, hi)
		} else {
			t.Logf("loss %g: %d of %d packets dropped (%.2f %%), interval %d … %d at 1e-4", p, k, n, 100*float64(k)/float64(n), lo, hi)
		}
	} else {
		t.Logf("netem: the dropped count is netem's own, not read here (counters %+v)", c1)
	}
	slices.Sort(lat)
	if lat[0] < rtt2 {
		t.Errorf("requests with loss: min %v, under the RTT %v", lat[0], rtt2)
	}
	t.Logf("requests with loss %g at +10 ms: min %v, p50 %v, max %v", p, lat[0], lat[len(lat)/2], lat[len(lat)-1])

	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	baseline(t, "requests after Close, same connection", hc.latencies(20)...)
	baseline(t, "connect after Close", connects(t, addr, 5)...)
	d, bps = hc.throughput(size)
	t.Logf("throughput after Close: %d bytes in %v, %.0f MB/s", size, d, bps/1e6)
	if n := sidecarsOf(t, ctx, ctr.GetContainerID()); n != 0 {
		t.Errorf("%d sidecars left after Close", n)
	}
}
