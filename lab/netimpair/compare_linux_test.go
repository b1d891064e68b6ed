//go:build linux

package netimpair_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/netimpair"
	"github.com/tcplab/tcplab/lab/runner"
)

// The side-by-side's sizes.
const (
	cmpRequests = 200 // requests on one kept-alive connection, per RTT
	cmpConnects = 20  // fresh connects, per RTT
	cmpLossReqs = 400 // requests at 1 % loss
	cmpAttaches = 10  // Attach and Close, and plain container starts
	cmpBulkFor  = 4 * time.Second
	cmpBulkRTT  = 50 * time.Millisecond
	cmpLossRTT  = 50 * time.Millisecond
	cmpLoss     = 0.01
)

var cmpRTTs = []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond}

// cmpFigures is what one tool gave.
type cmpFigures struct {
	p50, p99, connect map[time.Duration]time.Duration // by asked RTT; p50 and p99 over it
	bulk              float64                         // bytes/s at cmpBulkRTT
}

// BenchmarkCompare puts netimpair and toxiproxy v2.12.0 side by side in
// front of the same HTTP service (testdata/httpserver, FROM scratch, on an
// internal network the host reaches directly), measured from this host:
//
//   - for each asked RTT, HTTP request latency over the RTT (p50, p99) on
//     a kept-alive connection, and the p50 of fresh connects: netimpair
//     attached with RTT; toxiproxy in this process as lab/runner runs it
//     (a latency toxic of RTT/2 on each stream), in front of the
//     container's address;
//   - a bulk GET's throughput at +50 ms, after its first second, and
//     netimpair's again with the server's tcp_wmem max at 16 MiB (Linux's
//     default 4 MiB bounds the window, not the delay line);
//   - 1 % loss at +50 ms: netimpair's realised drops and the request tail;
//     toxiproxy drops no packets, so it has no row there;
//   - Attach+Close beside the start of a plain container and of an
//     in-process toxiproxy.
//
// It logs the figures as a markdown table (docs/own-containers.md):
//
//	go test ./lab/netimpair -run '^$' -bench Compare -benchtime 1x -v
func BenchmarkCompare(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	b.Logf("load before: %s", loadavg())
	ctr, addr := httpService(b, ctx)
	ni := cmpFigures{p50: map[time.Duration]time.Duration{}, p99: map[time.Duration]time.Duration{}, connect: map[time.Duration]time.Duration{}}
	tp := cmpFigures{p50: map[time.Duration]time.Duration{}, p99: map[time.Duration]time.Duration{}, connect: map[time.Duration]time.Duration{}}
	var mech netimpair.Mechanism
	var loss string
	var def, given attachTime // Attach and Close: the default image, SidecarImage
	var plain time.Duration   // a plain container's start
	var proxyStart time.Duration
	var bulkWmem float64 // netimpair's bulk, the server's tcp_wmem max 16 MiB

	b.Run("none", func(b *testing.B) {
		lat := newHTTPClient(b, addr).latencies(cmpRequests)
		b.ReportMetric(ms(pct(lat, 50)), "req-p50-ms")
		b.ReportMetric(ms(pct(lat, 99)), "req-p99-ms")
		b.ReportMetric(ms(pct(connects(b, addr, cmpConnects), 50)), "connect-p50-ms")
		b.ReportMetric(bulk(b, addr)/1e6, "bulk-MB/s")
		b.ReportMetric(0, "ns/op")
	})
	for _, rtt := range cmpRTTs {
		b.Run(fmt.Sprintf("rtt=%v/netimpair", rtt), func(b *testing.B) {
			h := netimpair.AttachForTest(b, ctr, netimpair.RTT(rtt))
			mech = h.Mechanism()
			cmpMeasure(b, addr, rtt, &ni)
			if c, err := h.Counters(ctx); err == nil {
				b.Logf("delay line: %d packets held, release late p99 %v, max %v", c.Queued, c.P99Late, c.MaxLate)
			}
		})
		b.Run(fmt.Sprintf("rtt=%v/toxiproxy", rtt), func(b *testing.B) {
			cmpMeasure(b, toxiproxyFor(b, addr, rtt), rtt, &tp)
		})
	}
	// The server's send buffer bounds the window: Linux's default
	// tcp_wmem max (4 MiB) allows at most 4 MiB a round trip.
	b.Run("bulk-wmem16m/netimpair", func(b *testing.B) {
		ctr, addr := httpServiceSysctls(b, ctx, map[string]string{"net.ipv4.tcp_wmem": "4096 16384 16777216"})
		netimpair.AttachForTest(b, ctr, netimpair.RTT(cmpBulkRTT))
		bulkWmem = bulk(b, addr)
		b.ReportMetric(bulkWmem/1e6, "bulk-MB/s")
		b.ReportMetric(0, "ns/op")
	})
	b.Run("loss/netimpair", func(b *testing.B) {
		h := netimpair.AttachForTest(b, ctr, netimpair.RTT(cmpLossRTT), netimpair.Loss(cmpLoss))
		hc := newHTTPClient(b, addr)
		hc.latencies(1) // the handshake, before the counting starts
		c0, err := h.Counters(ctx)
		if err != nil {
			b.Fatal(err)
		}
		lat := hc.latencies(cmpLossReqs)
		c1, err := h.Counters(ctx)
		if err != nil {
			b.Fatal(err)
		}
		dropped, queued := c1.Dropped-c0.Dropped, c1.Queued-c0.Queued
		stalls := 0
		for _, d := range lat {
			if d > cmpLossRTT+100*time.Millisecond {
				stalls++
			}
		}
		b.ReportMetric(float64(dropped), "dropped")
		b.ReportMetric(float64(queued), "queued")
		b.ReportMetric(over(pct(lat, 50), cmpLossRTT), "req-p50-over-ms")
		b.ReportMetric(over(pct(lat, 99), cmpLossRTT), "req-p99-over-ms")
		b.ReportMetric(ms(slices.Max(lat)), "req-max-ms")
		b.ReportMetric(0, "ns/op")
		loss = fmt.Sprintf("%d of %d packets into the target dropped (%.2f %%); %d of %d requests stalled; p50 %+.2f, p99 %+.1f, max %.0f ms",
			dropped, queued, 100*float64(dropped)/float64(max(queued, 1)), stalls, len(lat),
			over(pct(lat, 50), cmpLossRTT), over(pct(lat, 99), cmpLossRTT), ms(slices.Max(lat)))
	})
	b.Run("attach", func(b *testing.B) {
		def, given, plain = attachTimes(b, ctx, ctr)
		def.report(b, "")
		given.report(b, "image-given-")
		b.ReportMetric(ms(plain), "plain-container-p50-ms")
		var took []time.Duration
		for range cmpAttaches {
			t0 := time.Now()
			toxiproxyFor(b, addr, cmpBulkRTT)
			took = append(took, time.Since(t0))
		}
		proxyStart = pct(took, 50)
		b.ReportMetric(ms(proxyStart), "toxiproxy-start-p50-ms")
		b.ReportMetric(0, "ns/op")
	})
	b.Logf("load after: %s", loadavg())

	// The table, to paste into docs/own-containers.md.
	var t strings.Builder
	row := func(what, left, right string) { fmt.Fprintf(&t, "| %s | %s | %s |\n", what, left, right) }
	each := func(f func(rtt time.Duration) string) string {
		var s []string
		for _, rtt := range cmpRTTs {
			s = append(s, f(rtt))
		}
		return strings.Join(s, " / ")
	}
	overs := func(m map[time.Duration]time.Duration) string {
		return each(func(r time.Duration) string { return fmt.Sprintf("%+.2f", over(m[r], r)) }) + " ms"
	}
	connect := func(m map[time.Duration]time.Duration) string {
		return each(func(r time.Duration) string { return fmt.Sprintf("%.2f", ms(m[r])) }) + " ms"
	}
	rtts := each(func(r time.Duration) string { return fmt.Sprint(r.Milliseconds()) })
	row("asked RTT "+rtts+" ms", fmt.Sprintf("netimpair (%s)", mech), "toxiproxy v2.12.0, latency toxic")
	row("---", "---", "---")
	row("request p50 over the RTT", overs(ni.p50), overs(tp.p50))
	row("request p99 over the RTT", overs(ni.p99), overs(tp.p99))
	row("connect p50", connect(ni.connect), connect(tp.connect)+" (the handshake is with the proxy)")
	row("bulk GET at +50 ms", fmt.Sprintf("%.0f MB/s (%.0f MB/s with the server's tcp_wmem max 16 MiB)", ni.bulk/1e6, bulkWmem/1e6),
		fmt.Sprintf("%.0f MB/s", tp.bulk/1e6))
	row("1 % loss at +50 ms", loss, "no packet loss (nearest: the timeout or limit_data toxic)")
	row("start, p50 of 10", fmt.Sprintf("Attach %.0f ms, Close %.0f ms (%.0f and %.0f ms with SidecarImage); a plain container %.0f ms",
		ms(pct(def.attach, 50)), ms(pct(def.close, 50)), ms(pct(given.attach, 50)), ms(pct(given.close, 50)), ms(plain)),
		fmt.Sprintf("in-process proxy and toxics %.2f ms", ms(proxyStart)))
	b.Logf("side by side:\n%s", t.String())
}

// cmpMeasure measures requests, connects and (at cmpBulkRTT) a bulk GET
// at addr, impaired by rtt, into f.
func cmpMeasure(b *testing.B, addr string, rtt time.Duration, f *cmpFigures) {
	lat := newHTTPClient(b, addr).latencies(cmpRequests)
	f.p50[rtt], f.p99[rtt] = pct(lat, 50), pct(lat, 99)
	f.connect[rtt] = pct(connects(b, addr, cmpConnects), 50)
	b.ReportMetric(over(f.p50[rtt], rtt), "req-p50-over-ms")
	b.ReportMetric(over(f.p99[rtt], rtt), "req-p99-over-ms")
	b.ReportMetric(ms(f.connect[rtt]), "connect-p50-ms")
	if rtt == cmpBulkRTT {
		f.bulk = bulk(b, addr)
		b.ReportMetric(f.bulk/1e6, "bulk-MB/s")
	}
	b.ReportMetric(0, "ns/op")
	if lo := slices.Min(lat); lo < rtt {
		b.Errorf("a request took %v, under the asked RTT %v", lo, rtt)
	}
}

// toxiproxyFor runs toxiproxy in this process, in front of upstream, with
// the latency toxics lab/runner/toxiproxy.go adds for rtt (half on each
// stream), until the benchmark's end; it returns the proxy's address.
func toxiproxyFor(b *testing.B, upstream string, rtt time.Duration) string {
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "netimpair-compare", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Stop)
	for _, stream := range []string{"upstream", "downstream"} {
		toxic := fmt.Sprintf(`{"name":"latency_%s","type":"latency","stream":%q,"attributes":{"latency":%d,"jitter":0}}`,
			stream, stream, rtt.Milliseconds()/2)
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
			b.Fatal(err)
		}
	}
	return p.Listen
}

// bulk GETs 1 GiB from addr on a fresh connection for cmpBulkFor and
// returns its rate in bytes/s after the first second (slow start), or over
// the whole body when it came in under two seconds.
func bulk(b *testing.B, addr string) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), cmpBulkFor+30*time.Second)
	defer cancel()
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/bytes?n=%d", addr, 1<<30), nil)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 256<<10)
	var n, n1 int64
	var t0, t1, now time.Time
	for {
		k, err := resp.Body.Read(buf)
		now = time.Now()
		if t0.IsZero() && k > 0 {
			t0 = now
		}
		n += int64(k)
		if t1.IsZero() && !t0.IsZero() && now.Sub(t0) >= time.Second {
			t1, n1 = now, n
		}
		if err == io.EOF || (!t0.IsZero() && now.Sub(t0) >= cmpBulkFor) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	if now.Sub(t0) < 2*time.Second || t1.IsZero() {
		b.Logf("bulk: %d bytes in %v", n, now.Sub(t0))
		return float64(n) / now.Sub(t0).Seconds()
	}
	b.Logf("bulk: %d bytes in %v, %d of them after the first second", n, now.Sub(t0), n-n1)
	return float64(n-n1) / now.Sub(t1).Seconds()
}

// attachTimes is the p50 of cmpAttaches Attach and Close to ctr with the
// sidecar's image already built, found each time (the default) and given
// by SidecarImage, and of a plain container's start, ready and terminate:
// the lab's image on ctr's network, waited for by its log line as the
// sidecar is.
func attachTimes(b *testing.B, ctx context.Context, ctr testcontainers.Container) (def, given attachTime, plainP50 time.Duration) {
	image, err := harness.Image(ctx, daemonArch(b, ctx))
	if err != nil {
		b.Fatal(err)
	}
	nets, err := ctr.Networks(ctx)
	if err != nil {
		b.Fatal(err)
	}
	attachClose(b, ctx, ctr) // a warm build cache
	var plain []time.Duration
	for range cmpAttaches {
		def.add(attachClose(b, ctx, ctr))
		given.add(attachClose(b, ctx, ctr, netimpair.SidecarImage(image)))
		t0 := time.Now()
		c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
			ContainerRequest: testcontainers.ContainerRequest{
				Image:      image,
				Cmd:        []string{"serve", "latency-dial", "-lifetime", "5m", "impair.rtt=10ms"}, // as service()
				Labels:     map[string]string{"tcplab.netimpair.test": "1"},
				Networks:   nets,
				WaitingFor: wait.ForLog(runner.ReadyLine).WithStartupTimeout(30 * time.Second),
			},
			Started: true,
		})
		testcontainers.CleanupContainer(b, c)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Terminate(ctx); err != nil {
			b.Fatal(err)
		}
		plain = append(plain, time.Since(t0))
	}
	b.Logf("Attach, Close: %v, %v; with SidecarImage: %v, %v; plain container: %v", def.attach, def.close, given.attach, given.close, plain)
	return def, given, pct(plain, 50)
}

// pct is the nearest-rank p-th percentile of ds.
func pct(ds []time.Duration, p float64) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	return s[max(int(math.Ceil(p/100*float64(len(s))))-1, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func over(d, rtt time.Duration) float64 { return ms(d - rtt) }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(b))
}
