package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/tcplab/tcplab/lab/control"
	"github.com/tcplab/tcplab/lab/impair"
)

// ProbePort is the server's echo port for the RTT probe: impaired like the
// port under test, so the probe measures the same path without using up
// the scenario's backlog or accepts.
const ProbePort = 7002

// probeEchoes is how many one-byte round trips the probe makes before it
// reads the kernel's smoothed RTT.
const probeEchoes = 10

// serveProbe echoes bytes on ProbePort until ctx ends.
func serveProbe(ctx context.Context) error {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(ProbePort))
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
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return nil
}

// applyNetwork asks the agents for the impair.* network: half the RTT and
// jitter on each side's ingress, loss on both, the rate on the server's
// egress. Then a probe connection measures what the kernel sees.
func (e *Env) applyNetwork(im Impairment) (*impair.Network, error) {
	n := &impair.Network{Mechanism: im.Mechanism, RTTMS: Ms(im.RTT), JitterMS: Ms(im.Jitter), Loss: im.Loss, RateKbit: im.RateKbit}
	mech := im.Mechanism
	if mech == "auto" {
		mech = impair.Auto
	}
	side := impair.Spec{Port: Port, AlsoPorts: []int{ProbePort}, Delay: im.RTT / 2, Jitter: im.Jitter / 2,
		Loss: im.Loss, Mechanism: mech}
	server := side
	server.RateKbit = im.RateKbit
	if err := e.Impair(server); err != nil {
		return n, fmt.Errorf("impairing the server side: %w", err)
	}
	if e.clientAgent != nil {
		var a impair.Applied
		if err := e.clientAgent.Call(e.Ctx, "apply", side, &a); err != nil {
			return n, fmt.Errorf("impairing the client side: %w", err)
		}
		for _, m := range a.Mechanisms {
			e.mech[m] = true
		}
	}
	n.Mechanism = e.mechanisms()
	connect, echo, rtt, err := e.probe()
	n.ProbeConnectMS, n.ProbeEchoMS, n.TcpiRTTMS = Ms(connect), Ms(echo), float64(rtt.Microseconds())/1000
	if err != nil {
		return n, fmt.Errorf("RTT probe through the impaired path: %w", err)
	}
	// Evidence first: a delay the kernel did not see did not happen.
	if low := im.RTT - im.Jitter - time.Millisecond; im.RTT > 0 && rtt < low {
		return n, fmt.Errorf("impairment did not happen: asked RTT %v, the kernel measured %v (%s)", im.RTT, rtt, n.Mechanism)
	}
	return n, nil
}

// probe dials ProbePort, makes probeEchoes one-byte round trips and reads
// tcpi_rtt: connect time, median echo, kernel RTT.
func (e *Env) probe() (connect, echo, rtt time.Duration, err error) {
	ctx, cancel := context.WithTimeout(e.Ctx, 30*time.Second)
	defer cancel()
	var d net.Dialer
	start := time.Now()
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(e.ip, strconv.Itoa(ProbePort)))
	connect = time.Since(start)
	if err != nil {
		return connect, 0, 0, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	var rtts []time.Duration
	b := []byte{'x'}
	for range probeEchoes {
		t := time.Now()
		if _, err := c.Write(b); err != nil {
			return connect, 0, 0, err
		}
		if _, err := io.ReadFull(c, b); err != nil {
			return connect, 0, 0, err
		}
		rtts = append(rtts, time.Since(t))
	}
	slices.Sort(rtts)
	rtt, err = impair.TCPInfoRTT(c)
	return connect, rtts[len(rtts)/2], rtt, err
}

// finishNetwork reads each agent's counters at the end of the run: an agent
// that is gone, a delay line that failed or queued nothing, or a verdict
// that did not reach the kernel means the run was not impaired as asked.
func (e *Env) finishNetwork(n *impair.Network) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, s := range []struct {
		name string
		c    *control.Client
		out  **impair.Counters
	}{{"server", e.agent, &n.Server}, {"client", e.clientAgent, &n.Client}} {
		if s.c == nil {
			continue
		}
		var ctr impair.Counters
		if err := s.c.Call(ctx, "counters", nil, &ctr); err != nil {
			errs = append(errs, fmt.Errorf("%s agent at the end of the run: %w", s.name, err))
			continue
		}
		*s.out = &ctr
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
