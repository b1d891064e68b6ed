package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/docker/go-connections/proxy"

	"github.com/tcplab/tcplab/lab/kernel"
	"github.com/tcplab/tcplab/lab/scenario"
)

// Shared by proxy-backlog and proxy-refused: Docker's userland port proxy
// (github.com/docker/go-connections/proxy, the design docker-proxy runs)
// in front of a backend in the server's own namespace.

// proxyBackendPort is the backend behind the proxy, bound to 127.0.0.1 so
// the client can reach it only through the proxy.
const proxyBackendPort = 9000

// ProxyMechanism names what stands between the client and the backend.
const ProxyMechanism = "go-connections/proxy"

// Fates of a connection through a proxy, from its dial and first Read.
const (
	FateNoDial = "no-dial" // the dial itself failed
	FateHung   = "hung"    // the first Read hit its deadline: the backend holds the connection
	FateEnded  = "ended"   // the first Read returned EOF or ECONNRESET: the proxy gave up and closed
	FateData   = "data"    // the first Read returned bytes (never expected: the backends send nothing)
	FateOther  = "other"
)

// ProxyConn is one connection through a proxy: its dial and its first Read.
// DialMS is informational: a dial the proxy accepts takes the bridge's
// round trip, which no mechanism pins.
type ProxyConn struct {
	Dial   scenario.ErrInfo `json:"dial"` // kind "none" when it connected
	DialMS float64          `json:"dial_ms" tcplab:"info"`
	// Read is the first Read's error (nil when the dial failed); ReadMS is
	// when that Read returned, from the start of this connection's dial.
	Read   *scenario.ErrInfo `json:"read"`
	ReadN  int               `json:"read_n"`
	ReadMS float64           `json:"read_ms"`
	Fate   string            `json:"fate"`
}

// QuickConn is a ProxyConn whose first Read returns at once (a refused
// backend dial): a loopback round trip, which no mechanism pins, so its
// time is informational like its dial's.
type QuickConn struct {
	Dial   scenario.ErrInfo  `json:"dial"`
	DialMS float64           `json:"dial_ms" tcplab:"info"`
	Read   *scenario.ErrInfo `json:"read"`
	ReadN  int               `json:"read_n"`
	ReadMS float64           `json:"read_ms" tcplab:"info"`
	Fate   string            `json:"fate"`
}

func quick(cs []ProxyConn) []QuickConn {
	out := make([]QuickConn, len(cs))
	for i, c := range cs {
		out[i] = QuickConn(c)
	}
	return out
}

// ProxyLogLine is one backend dial the proxy could not make (it logs each
// and closes the client's connection); the error is classified from the
// value the proxy passed to its logger.
type ProxyLogLine struct {
	Error scenario.ErrInfo `json:"error"`
}

// proxyServerReport is what the server publishes as "proxy" once the
// client signals "count": the backend listener's kernel view and the
// proxy's backend dial failures.
type proxyServerReport struct {
	Backend kernel.Stats   `json:"backend"`
	Log     []ProxyLogLine `json:"log"`
}

// proxyLog collects the proxy's log calls; the error among the arguments is
// kept as a value, so it can be classified with errors.Is.
type proxyLog struct {
	mu    sync.Mutex
	lines []ProxyLogLine
}

func (l *proxyLog) Printf(format string, args ...any) {
	for _, a := range args {
		if err, ok := a.(error); ok {
			l.mu.Lock()
			l.lines = append(l.lines, ProxyLogLine{Error: scenario.Classify(err)})
			l.mu.Unlock()
			return
		}
	}
}

func (l *proxyLog) snapshot() []ProxyLogLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ProxyLogLine{}, l.lines...)
}

// proxyServer runs the proxy on the port under test in front of
// 127.0.0.1:9000. With backlog, a never-accepting listener with a listen
// backlog of server.backlog holds 9000, and a second one PublishedPort
// (for Docker's publishing, so the host's dials meet a queue of their
// own); without, nothing listens on either. The proxy's own listener keeps
// somaxconn's deep queue, as docker-proxy's does on the host: with a
// shallow one, a proxy descheduled for a millisecond on a busy machine lets
// serial dials overflow it, and a dial fails at the proxy.
func proxyServer(backlog bool) func(s *scenario.ServerEnv) error {
	return func(s *scenario.ServerEnv) error {
		if backlog {
			for _, l := range []struct {
				ip   net.IP
				port int
			}{{net.IPv4(127, 0, 0, 1), proxyBackendPort}, {nil, scenario.PublishedPort}} {
				ln, err := listenBacklog(l.ip, l.port, s.Knobs.Int("server.backlog"))
				if err != nil {
					return err
				}
				defer ln.Close() // never accepted: handshakes stay in its queue
			}
		}
		var log proxyLog
		p, err := proxy.NewTCPProxy(&net.TCPAddr{Port: scenario.Port},
			&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: proxyBackendPort},
			func(p *proxy.TCPProxy) { p.Logger = &log })
		if err != nil {
			return err
		}
		go p.Run()
		defer p.Close()
		if err := s.Await("count"); err != nil {
			return nil
		}
		s.Publish("proxy", proxyServerReport{Backend: kernel.StatsFor(proxyBackendPort), Log: log.snapshot()})
		<-s.Ctx.Done()
		return nil
	}
}

// probeProxy dials addr n times serially, each dial bounded by dialTimeout;
// each connection's first Read starts as soon as it is dialled and is
// bounded by hold from the start of its dial. It returns when every Read
// has returned, with the connections closed.
func probeProxy(ctx context.Context, addr string, n int, dialTimeout, hold time.Duration) []ProxyConn {
	out := make([]ProxyConn, n)
	var wg sync.WaitGroup
	d := net.Dialer{Timeout: dialTimeout}
	for i := range out {
		start := time.Now()
		c, err := d.DialContext(ctx, "tcp", addr)
		out[i].DialMS, out[i].Dial = scenario.Ms(time.Since(start)), scenario.Classify(err)
		if err != nil {
			out[i].Fate = FateNoDial
			continue
		}
		wg.Go(func() {
			defer c.Close()
			n, err := 0, c.SetReadDeadline(start.Add(hold))
			if err == nil {
				n, err = c.Read(make([]byte, 64))
			}
			info := scenario.Classify(err)
			out[i].ReadMS, out[i].Read, out[i].ReadN = scenario.Ms(time.Since(start)), &info, n
			out[i].Fate = fate(n, err)
		})
	}
	wg.Wait()
	return out
}

func fate(n int, err error) string {
	switch {
	case n > 0:
		return FateData
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return FateEnded
	case errors.Is(err, os.ErrDeadlineExceeded):
		return FateHung
	}
	return FateOther
}

// countFates tallies the connections by fate.
func countFates(cs []ProxyConn) map[string]int {
	m := map[string]int{}
	for _, c := range cs {
		m[c.Fate]++
	}
	return m
}

// PublishedObs is what the host process saw through Docker's publishing of
// the server's PublishedPort, filled by the scenario's host probe; C is
// the scenario's kind of connection.
type PublishedObs[C ProxyConn | QuickConn] struct {
	// Mechanism is what answered on the host port, inferred from what the
	// dials did, never assumed: "docker-proxy" (a userland proxy accepted
	// more dials than the backend admits, or a dial to a closed port), or
	// "iptables-dnat" (userland-proxy=false: the backend's own behaviour).
	// The verdicts infer it again from the connections.
	Mechanism string  `json:"mechanism"`
	Network   string  `json:"network"`               // the label of the extra network the publishing used
	Addr      string  `json:"addr"`                  // dialled from the host: 127.0.0.1:<port>
	HoldMS    float64 `json:"hold_ms" tcplab:"info"` // each first Read's bound, from the knobs
	Conns     []C     `json:"conns"`
	// Of Conns, for the report.
	Succeeded int `json:"succeeded" tcplab:"info"`
	Hung      int `json:"hung" tcplab:"info"`
	Ended     int `json:"ended" tcplab:"info"`
}

const (
	viaDockerProxy = "docker-proxy"
	viaDNAT        = "iptables-dnat"
	viaUnknown     = "unknown"
)

func newPublishedObs[C ProxyConn | QuickConn](addr string, hold time.Duration, cs []ProxyConn, conv func([]ProxyConn) []C, mechanism string) *PublishedObs[C] {
	f := countFates(cs)
	return &PublishedObs[C]{Network: scenario.LabelPublished + "=true", Addr: addr, HoldMS: scenario.Ms(hold), Conns: conv(cs),
		Succeeded: len(cs) - f[FateNoDial], Hung: f[FateHung], Ended: f[FateEnded], Mechanism: mechanism}
}

// describe is the one line the headline gets about the published variant.
func describe(mechanism string, cs []ProxyConn) string {
	f := countFates(cs)
	return fmt.Sprintf("published port via %s: %d/%d dials, %d hung, %d ended", mechanism, len(cs)-f[FateNoDial], len(cs), f[FateHung], f[FateEnded])
}

func same(cs []ProxyConn) []ProxyConn { return cs }

// asProxyConns is the common view of either kind of connection.
func asProxyConns[C ProxyConn | QuickConn](cs []C) []ProxyConn {
	out := make([]ProxyConn, len(cs))
	for i, c := range cs {
		out[i] = ProxyConn(c)
	}
	return out
}

// noData: the backends never send, so no first Read returns bytes.
func noData(cs []ProxyConn) bool {
	for _, c := range cs {
		if c.ReadN != 0 {
			return false
		}
	}
	return true
}
