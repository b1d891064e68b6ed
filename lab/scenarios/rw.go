package scenarios

import (
	"fmt"
	"net"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// Helpers shared by the drivers: the dial to the server under test, for
// every driver that talks to it directly, and the §3 Read/Write scenarios'
// waits.

// step bounds every blocking step of a driver that is expected to finish at
// once: a scenario that would hang fails with a message instead. Such a
// step takes a round trip on the lab's bridge or less (well under a
// millisecond); 5 s leaves ample room for scheduling on a busy machine, yet
// fails well inside every scenario's Timeout (20 s or more).
const step = 5 * time.Second

// dialTCP dials the server under test, bounded by step.
func dialTCP(e *scenario.Env) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: step}
	c, err := d.DialContext(e.Ctx, "tcp", e.Addr())
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", e.Addr(), err)
	}
	return c.(*net.TCPConn), nil
}

// dialBounded dials the server under test and bounds every Read and Write
// on the conn by step from now: the start of a driver whose whole exchange
// should finish at once. The caller closes the conn.
func dialBounded(e *scenario.Env) (*net.TCPConn, error) {
	c, err := dialTCP(e)
	if err != nil {
		return nil, err
	}
	if err := c.SetDeadline(time.Now().Add(step)); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// dialAndSignal dials the server, sends it signal and bounds c's Reads by
// d + step from then (fail, not hang): the start of a §3 driver whose
// server does something d after the signal. The caller closes c.
func dialAndSignal(e *scenario.Env, signal string, d time.Duration) (c *net.TCPConn, start time.Time, err error) {
	if c, err = dialTCP(e); err != nil {
		return nil, start, err
	}
	start = time.Now()
	if err = e.Signal(signal); err == nil {
		err = c.SetReadDeadline(start.Add(d + step))
	}
	if err != nil {
		c.Close()
		return nil, start, err
	}
	return c, start, nil
}

// waitUntil polls cond every 5 ms until it holds, or fails after max with
// what.
func waitUntil(e *scenario.Env, max time.Duration, what string, cond func() (bool, error)) error {
	end := time.Now().Add(max)
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(end) || e.Ctx.Err() != nil {
			return fmt.Errorf("%s: not after %v", what, max)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// knobInt is an integer knob, 0 when the scenario has no such knob.
func knobInt(k scenario.Knobs, name string) int {
	if _, ok := k[name]; !ok {
		return 0
	}
	return k.Int(name)
}

// stableNote is the expectation on totals measured on several connections
// with the same buffers. They agree on most, not all: now and then the
// receiver holds one segment more or less (its memory is counted by skb
// truesize, which depends on how packets were coalesced on arrival) or the
// sender packs its queue differently. So the most common total must hold
// on a majority, and the rest are reported.
const stableNote = "the same total on a majority of connections (skb packing moves the odd one by a segment or so)"
