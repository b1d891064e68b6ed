package runner

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tcplab/tcplab/lab/control"
	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/kernel"
	"github.com/tcplab/tcplab/lab/scenario"
)

// ProbePort is the server's probe port: impaired like the port under
// test, so the probe measures the same path without using up the
// scenario's backlog or accepts. A connection's first byte picks echo
// ('e': every byte comes back) or bulk ('b': read to EOF, answer the count).
const ProbePort = 7002

// link is the client's side of the run's impair.* network: the server's
// address and the agents on both sides, and the mechanisms they applied.
type link struct {
	ctx         context.Context // ends at the scenario's timeout
	ip          string          // the server's address
	agent       *control.Client // in the server's namespace
	clientAgent *control.Client // in this (the client's) namespace
	mech        mechs
}

// serveProbe serves ProbePort until ctx ends.
func serveProbe(ctx context.Context, port int) error {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); ln.Close() }()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				mode := make([]byte, 1)
				if _, err := io.ReadFull(c, mode); err != nil {
					return
				}
				switch mode[0] {
				case 'e':
					_, _ = io.Copy(c, c)
				case 'b':
					n, _ := io.Copy(io.Discard, c)
					_, _ = c.Write(binary.BigEndian.AppendUint64(nil, uint64(n)))
				}
			}()
		}
	}()
	return nil
}

// applyNetwork asks the agents for the impair.* network: half the RTT and
// jitter on each side's ingress, loss on both, the rate on each side's
// egress. Then a probe connection measures what the kernel sees.
func (l *link) applyNetwork(im scenario.Impairment) (*impair.Network, error) {
	n := &impair.Network{Mechanism: im.Mechanism, RTTMS: scenario.Ms(im.RTT), JitterMS: scenario.Ms(im.Jitter), Loss: im.Loss, RateKbit: im.RateKbit}
	mech := im.Mechanism
	if mech == "auto" {
		mech = impair.Auto
	}
	side := impair.Spec{Port: scenario.Port, AlsoPorts: []int{ProbePort}, Delay: im.RTT / 2, Jitter: im.Jitter / 2,
		Loss: im.Loss, Mechanism: mech, RateKbit: im.RateKbit}
	for _, s := range []struct {
		name string
		c    *control.Client
	}{{"server", l.agent}, {"client", l.clientAgent}} {
		if s.c == nil {
			continue
		}
		var a impair.Applied
		if err := s.c.Call(l.ctx, "apply", side, &a); err != nil {
			return n, fmt.Errorf("impairing the %s side: %w", s.name, err)
		}
		l.mech.add(a.Mechanisms...)
	}
	n.Mechanism = l.mech.String()
	ctx, cancel := context.WithTimeout(l.ctx, 2*time.Minute)
	defer cancel()
	if err := l.probe(ctx, im, n); err != nil {
		return n, fmt.Errorf("RTT probe through the impaired path: %w", err)
	}
	// Evidence first: a delay the kernel did not see did not happen.
	rtt := time.Duration(n.TcpiRTTMS * float64(time.Millisecond))
	if low := im.RTT - im.Jitter - time.Millisecond; im.RTT > 0 && rtt < low {
		return n, fmt.Errorf("impairment did not happen: asked RTT %v, the kernel measured %v (%s)", im.RTT, rtt, n.Mechanism)
	}
	if im.Crash != "" {
		if err := l.agent.Call(l.ctx, "crash", map[string]any{"mode": im.Crash, "after": im.CrashAfter}, nil); err != nil {
			return n, err
		}
	}
	if im.ProbeBulk > 0 {
		took, retrans, err := l.bulk(ctx, im.ProbeBulk)
		if err != nil {
			return n, fmt.Errorf("bulk transfer through the impaired path: %w", err)
		}
		n.ProbeBulkBytes, n.ProbeBulkTookMS, n.ProbeBulkRetrans = im.ProbeBulk, scenario.Ms(took), retrans
		n.ProbeBulkMBps = math.Round(float64(im.ProbeBulk)/took.Seconds()/1e4) / 100
	}
	settle(ctx, ProbePort, probeSettle)
	return n, nil
}

// probeSettle bounds the wait for the probe's connections to stop sending:
// a lost FIN is resent by a probe timer (SRTT + 200 ms) or an RTO.
const probeSettle = 5 * time.Second

// settle waits, for at most max, until none of this namespace's
// connections to port can send any more (each is gone, in FIN_WAIT2 or in
// TIME_WAIT), so that a scenario reading the namespace's TcpExt counters
// (loss-retransmit's "no fast retransmit") counts its own connection's
// recoveries and none of the probe's. Past max, or without a socket table,
// the run goes on.
func settle(ctx context.Context, port int, max time.Duration) {
	quiet := map[string]bool{"FIN_WAIT2": true, "TIME_WAIT": true, "CLOSE": true, "LISTEN": true}
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		socks, err := kernel.Sockets()
		if err != nil {
			return
		}
		busy := false
		for _, s := range socks {
			if s.RemotePort == port && !quiet[s.State] {
				busy = true
			}
		}
		if !busy {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// probeHandshakes is how many handshakes the probe times at the least.
// The fastest is the figure: every one is held a whole RTT, so none may be
// early, and one dial descheduled on a busy runner (121.5 ms at +100 ms,
// the delay lines on time) says nothing of the network.
const probeHandshakes = 5

// probeConns is the most connections the probe's round trips are spread
// over, so 1,000 of them at +100 ms take 10 s, not 100.
const probeConns = 10

// probe measures the impaired path: the fastest of probeHandshakes
// connects, tcpi_rtt of one connection, im.Probe one-byte round trips
// over up to probeConns connections, and the same through toxiproxy if
// asked.
func (l *link) probe(ctx context.Context, im scenario.Impairment, n *impair.Network) error {
	addr := net.JoinHostPort(l.ip, strconv.Itoa(ProbePort))
	var tcpi time.Duration
	all, connects, err := spread(ctx, addr, im.Probe, func(c net.Conn) (err error) {
		tcpi, err = impair.TCPInfoRTT(c)
		return err
	})
	if err != nil {
		return err
	}
	for len(connects) < probeHandshakes {
		// A handshake only: closed before a byte is written, so its FIN
		// is the one segment it sends.
		c, took, err := dialProbeAt(ctx, addr)
		if err != nil {
			return err
		}
		c.Close()
		connects = append(connects, took)
	}
	n.ProbeConnectMS, n.TcpiRTTMS = scenario.Ms(slices.Min(connects)), float64(tcpi.Microseconds())/1000
	n.ProbeEchoes = len(all)
	n.ProbeEchoP50MS, n.ProbeEchoP99MS, n.ProbeEchoMaxMS = percentiles(all)
	n.ProbeEchoP10MS, n.ProbeEchoP90MS = msFine(all[len(all)/10]), msFine(all[len(all)*9/10])
	if im.ProbePeer {
		if n.Peer, err = l.probeToxiproxy(ctx, im); err != nil {
			return err
		}
	}
	return nil
}

// msFine is d in milliseconds to 0.01 ms: precision figures need it.
func msFine(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

// percentiles of sorted round trips: p50, p99 and max in ms.
func percentiles(all []time.Duration) (p50, p99, maxMS float64) {
	return msFine(all[len(all)/2]), msFine(all[min(len(all)-1, len(all)*99/100)]), msFine(all[len(all)-1])
}

// spread makes total one-byte round trips to the echo service at addr,
// over up to probeConns connections in parallel; last runs on the first
// connection after its round trips. It returns every round trip, sorted,
// and each connection's connect time.
func spread(ctx context.Context, addr string, total int, last func(net.Conn) error) ([]time.Duration, []time.Duration, error) {
	conns := min(probeConns, max(1, total/100))
	rtts := make([][]time.Duration, conns)
	connects := make([]time.Duration, conns)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			count := total / conns
			if i == 0 {
				count += total % conns
			}
			c, connect, err := dialProbeAt(ctx, addr)
			connects[i] = connect
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Close()
			if rtts[i], errs[i] = echoOn(c, count); errs[i] == nil && i == 0 && last != nil {
				errs[i] = last(c)
			}
		}()
	}
	wg.Wait()
	all := slices.Concat(rtts...)
	slices.Sort(all)
	return all, connects, errors.Join(errs...)
}

// dialProbeAt connects to a probe port. It writes nothing: the caller's
// first Write starts with the mode byte ('e' or 'b'). A mode byte written
// alone and followed at once by the first round trip's byte put two
// segments in flight; when the first was lost the second overtook it and
// the client fast-retransmitted, in the namespace whose TcpExt counters
// loss-retransmit judges ("no fast retransmit": one segment in flight).
func dialProbeAt(ctx context.Context, addr string) (net.Conn, time.Duration, error) {
	var d net.Dialer
	start := time.Now()
	c, err := d.DialContext(ctx, "tcp", addr)
	took := time.Since(start)
	if err != nil {
		return nil, took, err
	}
	if dl, ok := ctx.Deadline(); ok {
		if err := c.SetDeadline(dl); err != nil {
			c.Close()
			return nil, took, err
		}
	}
	return c, took, nil
}

// echoOn times count one-byte round trips on a fresh probe connection c,
// the first one's segment carrying the mode byte 'e' too.
func echoOn(c net.Conn, count int) ([]time.Duration, error) {
	var rtts []time.Duration
	b, out := []byte{'x'}, []byte{'e', 'x'}
	for range count {
		t := time.Now()
		if _, err := c.Write(out); err != nil {
			return nil, err
		}
		out = b
		if _, err := io.ReadFull(c, b); err != nil {
			return nil, err
		}
		rtts = append(rtts, time.Since(t))
	}
	return rtts, nil
}

// bulk sends size bytes and waits for the server's count: the time from
// the first byte to the answer, and the segments TCP retransmitted.
func (l *link) bulk(ctx context.Context, size int) (time.Duration, uint32, error) {
	c, _, err := dialProbeAt(ctx, net.JoinHostPort(l.ip, strconv.Itoa(ProbePort)))
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	buf := make([]byte, 1<<20)
	start := time.Now()
	if _, err := c.Write([]byte{'b'}); err != nil {
		return 0, 0, err
	}
	for left := size; left > 0; left -= min(left, len(buf)) {
		if _, err := c.Write(buf[:min(left, len(buf))]); err != nil {
			return 0, 0, err
		}
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return 0, 0, err
	}
	ans := make([]byte, 8)
	if _, err := io.ReadFull(c, ans); err != nil {
		return 0, 0, err
	}
	took := time.Since(start)
	if got := binary.BigEndian.Uint64(ans); got != uint64(size) {
		return took, 0, fmt.Errorf("the server received %d of %d bytes", got, size)
	}
	retrans, err := impair.TCPInfoRetrans(c)
	return took, retrans, err
}

// finishNetwork reads each agent's counters at the end of the run: an agent
// that is gone, a delay line that failed or queued nothing, or a verdict
// that did not reach the kernel means the run was not impaired as asked.
func (l *link) finishNetwork(n *impair.Network) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, s := range []struct {
		name string
		c    *control.Client
		out  **impair.Counters
	}{{"server", l.agent, &n.Server}, {"client", l.clientAgent, &n.Client}} {
		if s.c == nil {
			continue
		}
		var ctr impair.Counters
		if err := s.c.Call(ctx, "counters", nil, &ctr); err != nil {
			errs = append(errs, fmt.Errorf("%s agent at the end of the run: %w", s.name, err))
			continue
		}
		*s.out = &ctr
		if ctr.DelayLine == nil && strings.Contains(n.Mechanism, impair.DelayLine) {
			errs = append(errs, fmt.Errorf("%s agent: no delay line runs any more", s.name))
		}
		if l := ctr.DelayLine; l != nil {
			switch {
			case l.Failure != "":
				errs = append(errs, fmt.Errorf("%s delay line failed mid-run (traffic then flowed undelayed): %s", s.name, l.Failure))
			case l.Queued == 0:
				errs = append(errs, fmt.Errorf("%s delay line held no packet", s.name))
			case l.VerdictErrors > 0:
				errs = append(errs, fmt.Errorf("%s delay line: %d verdicts failed", s.name, l.VerdictErrors))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("impairment did not hold: %w", err)
	}
	return nil
}
