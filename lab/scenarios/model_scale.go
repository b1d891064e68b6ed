package scenarios

import (
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// modelScale: the article's model, one goroutine per connection, held at
// N idle connections and then driven with echo traffic on all of them. The
// netpoller parks every goroutine blocked in Read, so the cost per
// connection is a small stack plus the runtime's poll descriptor.
var modelScale = &scenario.Scenario{
	ID:      "model-scale",
	Section: "1 Model",
	Title:   "goroutine-per-connection server holding N connections, then echo traffic on all of them",
	Timeout: 3 * time.Minute,
	Knobs: []scenario.Knob{
		{Name: "client.conns", Default: "10000", Kind: scenario.Int, Min: 1, Max: 25000, Help: "idle connections to hold"},
		{Name: "client.echo_for", Default: "3s", Kind: scenario.Duration, Min: 0.5, Max: 60, Help: "how long to drive echo traffic"},
		{Name: "client.echo_workers", Default: "64", Kind: scenario.Int, Min: 1, Max: 1024, Help: "goroutines driving round trips"},
		{Name: "client.budget_rss_per_conn", Default: "16384", Kind: scenario.Int, Min: 1024, Max: 1 << 20,
			Help: "regression budget: server RSS per held connection, bytes"},
		{Name: "client.budget_p99", Default: "250ms", Kind: scenario.Duration, Min: 0.001, Max: 10,
			Help: "regression budget: p99 echo round trip"},
	},
	Obs: scenario.ObsOf[ModelScaleObs](),
	Server: func(s *scenario.ServerEnv) error {
		base := serverMem()
		s.Publish("baseline", base)
		var held atomic.Int64
		go func() { // publish the live numbers for the client to read
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-s.Ctx.Done():
					return
				case <-t.C:
					m := serverMem()
					m.Conns = held.Load()
					s.Publish("now", m)
				}
			}
		}()
		return acceptWith(s, func(c net.Conn) {
			held.Add(1)
			defer held.Add(-1)
			buf := make([]byte, 512)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
		})
	},
	Client: func(e *scenario.Env) error {
		n := e.Knobs.Int("client.conns")
		var base memStats
		if err := e.GetWait("baseline", &base, 10*time.Second); err != nil {
			return err
		}
		start := time.Now()
		conns, err := dialMany(e, n, 16)
		defer closeAll(conns)
		if err != nil {
			return err
		}
		dialTook := time.Since(start)
		var held memStats
		err = waitUntil(e, 30*time.Second, "server holding every connection", func() (bool, error) {
			err := e.Get("now", &held)
			return err == nil && held.Conns == int64(n), nil
		})
		if err != nil {
			return fmt.Errorf("%w (server reports %d)", err, held.Conns)
		}
		rtts, err := echo(e, conns, e.Knobs.Int("client.echo_workers"), e.Knobs.Duration("client.echo_for"))
		if err != nil {
			return err
		}
		perConn := float64(held.RSS-base.RSS) / float64(n)
		rate := float64(len(rtts)) / e.Knobs.Duration("client.echo_for").Seconds()
		p50, p99 := percentile(rtts, 50), percentile(rtts, 99)
		if err := e.Record(&ModelScaleObs{ConnsHeld: held.Conns, DialAllMS: scenario.Ms(dialTook), ServerGoroutines: held.Goroutines,
			ServerRSSBaselineBytes: base.RSS, ServerRSSBytes: held.RSS, ServerRSSPerConnBytes: int(perConn),
			ServerGoStackBytes: held.StackInuse, EchoRoundTrips: len(rtts), EchoRoundTripsPerS: int(rate),
			EchoP50MS: scenario.Ms(p50), EchoP99MS: scenario.Ms(p99)}); err != nil {
			return err
		}
		budgetMem, budgetP99 := e.Knobs.Int("client.budget_rss_per_conn"), e.Knobs.Duration("client.budget_p99")
		e.Expect("N connections held", held.Conns == int64(n), "%d of %d", held.Conns, n)
		e.Expect("one goroutine per connection", held.Goroutines >= n, "%d goroutines for %d connections", held.Goroutines, n)
		e.Expect("server RSS per connection within budget", perConn <= float64(budgetMem), "%.0f B per connection, budget %d", perConn, budgetMem)
		e.Expect("echo p99 within budget", p99 <= budgetP99, "p99 %v, budget %v", p99, budgetP99)
		e.Expect("every connection echoed", len(rtts) >= n, "%d round trips over %d connections", len(rtts), n)
		e.Headline("%d conns: %d goroutines, %.1f KiB RSS/conn; echo %d rt/s, p50 %.2f ms, p99 %.2f ms",
			held.Conns, held.Goroutines, perConn/1024, int(rate), scenario.Ms(p50), scenario.Ms(p99))
		return nil
	},
	Article: "the article describes the model without numbers; the lab measures it on 2 cores",
}

// memStats is what the model-scale server publishes about itself.
type memStats struct {
	Conns      int64  `json:"conns"`
	Goroutines int    `json:"goroutines"`
	RSS        int64  `json:"rss"`
	StackInuse uint64 `json:"stack_inuse"`
}

func serverMem() memStats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memStats{Goroutines: runtime.NumGoroutine(), RSS: vmRSS(), StackInuse: ms.StackInuse}
}

// vmRSS reads this process's resident set from /proc/self/status.
func vmRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// dialMany opens n connections with w dialers at once.
func dialMany(e *scenario.Env, n, w int) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	d := net.Dialer{Timeout: 10 * time.Second}
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, err := d.DialContext(e.Ctx, "tcp", e.Addr())
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("dial %d of %d: %w", i+1, n, err)
					}
					mu.Unlock()
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	held := slices.DeleteFunc(conns, func(c net.Conn) bool { return c == nil })
	return held, first
}

// echo drives round trips of a 64-byte message for d: worker i uses
// connections i, i+w, i+2w, … in turn, so every connection is used.
func echo(e *scenario.Env, conns []net.Conn, w int, d time.Duration) ([]time.Duration, error) {
	end := time.Now().Add(d)
	msg := make([]byte, 64)
	var mu sync.Mutex
	var all []time.Duration
	var first error
	var wg sync.WaitGroup
	for k := range min(w, len(conns)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, len(msg))
			var mine []time.Duration
			for i := k; time.Now().Before(end) && e.Ctx.Err() == nil; i += w {
				if i >= len(conns) {
					i = k
				}
				c := conns[i]
				t := time.Now()
				err := c.SetDeadline(t.Add(5 * time.Second))
				if err == nil {
					_, err = c.Write(msg)
				}
				if err == nil {
					_, err = io.ReadFull(c, buf)
				}
				if err != nil {
					mu.Lock()
					first = firstNonNil(first, fmt.Errorf("echo on connection %d: %w", i, err))
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, first
}

// percentile of durations (p in 0..100), nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// ModelScaleObs is what model-scale observed; server figures are what the
// server published about itself while it held every connection.
type ModelScaleObs struct {
	ConnsHeld              int64   `json:"conns_held"`
	DialAllMS              float64 `json:"dial_all_ms"`
	ServerGoroutines       int     `json:"server_goroutines"`
	ServerRSSBaselineBytes int64   `json:"server_rss_baseline_bytes"` // before any connection
	ServerRSSBytes         int64   `json:"server_rss_bytes"`
	// ServerRSSPerConnBytes is (RSS − baseline) / connections held.
	ServerRSSPerConnBytes int     `json:"server_rss_per_conn_bytes"`
	ServerGoStackBytes    uint64  `json:"server_go_stack_bytes"` // runtime.MemStats.StackInuse
	EchoRoundTrips        int     `json:"echo_round_trips"`
	EchoRoundTripsPerS    int     `json:"echo_round_trips_per_s"`
	EchoP50MS             float64 `json:"echo_p50_ms"`
	EchoP99MS             float64 `json:"echo_p99_ms"`
}
