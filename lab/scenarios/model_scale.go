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
	Weight:  fixed(8 * time.Second),
	// Its echo percentiles and RSS per conn are skewed by a busy CPU, and
	// its 10,000 connections keep one busy: Alone.
	Load: scenario.Alone,
	Knobs: []scenario.Knob{
		{Name: "client.conns", Default: "10000", Kind: scenario.Int, Min: 1, Max: 16000, Help: "idle connections to hold (the containers may open 16384 files)"},
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
		// Wait until the server's count stops short of n no longer; it is
		// recorded as read, so a server holding more is seen too.
		var held memStats
		err = waitUntil(e, 30*time.Second, "server holding every connection", func() (bool, error) {
			err := e.Get("now", &held)
			return err == nil && held.Conns >= int64(n), nil
		})
		if err != nil {
			return fmt.Errorf("%w (server reports %d)", err, held.Conns)
		}
		st, err := e.Stats()
		if err != nil {
			return err
		}
		rtts, err := echo(e, conns, e.Knobs.Int("client.echo_workers"), e.Knobs.Duration("client.echo_for"))
		if err != nil {
			return err
		}
		var busy time.Duration
		for _, d := range rtts {
			busy += d
		}
		sorted := sortedCopy(rtts)
		return e.Record(&ModelScaleObs{ConnsHeld: held.Conns, ServerEstablished: st.States["ESTABLISHED"], DialAllMS: scenario.Ms(dialTook),
			ServerGoroutinesBaseline: base.Goroutines, ServerGoroutines: held.Goroutines,
			ServerRSSBaselineBytes: base.RSS, ServerRSSBytes: held.RSS,
			ServerGoStackBaselineBytes: base.StackInuse, ServerGoStackBytes: held.StackInuse,
			EchoRoundTrips: len(rtts), EchoBusyMS: scenario.Ms(busy),
			EchoP50MS: scenario.Ms(quantile(sorted, 0.5)), EchoP99MS: scenario.Ms(quantile(sorted, 0.99))})
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *ModelScaleObs, v *scenario.Verdict) {
		n := k.Int("client.conns")
		echoFor := k.Duration("client.echo_for")
		v.Expect("the server holds exactly N connections (its handlers)", o.ConnsHeld == int64(n), "%d of %d", o.ConnsHeld, n)
		v.Expect("the server's kernel has N established connections on the port", o.ServerEstablished == n, "%d of %d", o.ServerEstablished, n)
		// The server's goroutines before any connection, plus one per
		// connection, plus what it starts for them: the publisher, the
		// accept loop's closer, the control server's (measured: 4).
		extra := o.ServerGoroutines - o.ServerGoroutinesBaseline - n
		v.Between("one goroutine per connection: goroutines − baseline − N", float64(extra), goroutinesExtra[0], goroutinesExtra[1], "")
		// A goroutine starts on the runtime's minimum stack (2 KiB), and a
		// handler parked in Read never grows it: the stacks rise by N × 2
		// KiB, plus the few other goroutines' (measured: 64 KiB).
		stackRise := int64(o.ServerGoStackBytes) - int64(o.ServerGoStackBaselineBytes)
		v.Between("each parked goroutine holds a 2 KiB stack: StackInuse rise − N × 2 KiB (bytes)", float64(stackRise-int64(n)*2048),
			0, 128<<10, " B")
		// Beyond its stack a connection costs its 512-byte buffer, the
		// net.TCPConn, netFD and poll descriptor and the goroutine's g:
		// about 2 KiB of heap (measured 2.0 KiB).
		perConn := float64(o.ServerRSSBytes-o.ServerRSSBaselineBytes) / float64(n)
		v.Between("a connection costs its stack plus ~2 KiB (server RSS rise − stack rise, per connection)",
			perConn-float64(stackRise)/float64(n), rssBeyondStack[0], rssBeyondStack[1], " B")
		budgetMem := k.Int("client.budget_rss_per_conn")
		v.Expect("server RSS per connection within budget", perConn <= float64(budgetMem), "%.0f B per connection, budget %d", perConn, budgetMem)
		// The echo figures are the machine's speed under its own load
		// (64 workers, 2 cores): nothing fixes them, so they are checked
		// against the regression budgets only, one-sided.
		v.Expect("every connection echoed", o.EchoRoundTrips >= n, "%d round trips over %d connections", o.EchoRoundTrips, n)
		budgetP99 := k.Duration("client.budget_p99")
		v.Expect("echo p99 within budget", o.EchoP50MS <= o.EchoP99MS && fromMS(o.EchoP99MS) <= budgetP99,
			"p50 %v ms, p99 %v ms, budget %v", o.EchoP50MS, o.EchoP99MS, budgetP99)
		rate := float64(o.EchoRoundTrips) / echoFor.Seconds()
		v.Headline("%d conns: %d goroutines, %.1f KiB RSS/conn (%.1f KiB stack); echo %.0f rt/s, p50 %.2f ms, p99 %.2f ms",
			o.ConnsHeld, o.ServerGoroutines, perConn/1024, float64(stackRise)/float64(n)/1024, rate, o.EchoP50MS, o.EchoP99MS)
	}),
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

// Bounds of model-scale's figures: the goroutines beyond one per
// connection (measured 4: the publisher, the accept loop's closer and the
// control server's two), and a connection's RSS beyond its stack
// (measured 2.0 KiB).
var (
	goroutinesExtra = [2]float64{3, 4}
	rssBeyondStack  = [2]float64{1024, 4096}
)

// ModelScaleObs is what model-scale observed; server figures are what the
// server published about itself while it held every connection.
type ModelScaleObs struct {
	ConnsHeld         int64 `json:"conns_held" tcplab:"exact"`         // the server's live handlers
	ServerEstablished int   `json:"server_established" tcplab:"exact"` // ESTABLISHED sockets on the port, server side
	// DialAllMS is how long the 16 dialers took to open every
	// connection: the machine's speed, which nothing fixes.
	DialAllMS                float64 `json:"dial_all_ms" tcplab:"info"`
	ServerGoroutinesBaseline int     `json:"server_goroutines_baseline"` // before any connection
	ServerGoroutines         int     `json:"server_goroutines" tcplab:"headline"`
	// ServerRSSBaselineBytes is the process before any connection: the
	// runtime's and the binary's footprint, which nothing here fixes
	// (doubled, it moves the per-connection figure by 1 KiB, inside
	// its noise); the verdicts subtract it.
	ServerRSSBaselineBytes     int64   `json:"server_rss_baseline_bytes" tcplab:"info"`
	ServerRSSBytes             int64   `json:"server_rss_bytes"`
	ServerGoStackBaselineBytes uint64  `json:"server_go_stack_baseline_bytes"` // runtime.MemStats.StackInuse
	ServerGoStackBytes         uint64  `json:"server_go_stack_bytes"`
	EchoRoundTrips             int     `json:"echo_round_trips" tcplab:"info"`
	EchoBusyMS                 float64 `json:"echo_busy_ms" tcplab:"info"` // the round trips' durations added up
	EchoP50MS                  float64 `json:"echo_p50_ms" tcplab:"info"`
	// The echo figures are the machine's speed under load: checked
	// one-sided against the budgets (every connection echoed, p99),
	// not pinned.
	EchoP99MS float64 `json:"echo_p99_ms" tcplab:"info"`
}
