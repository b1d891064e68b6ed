package scenarios

import (
	"io"
	"net"

	"github.com/tcplab/tcplab/lab/scenario"
)

// Shared by the latency scenarios (SCENARIOS.md §6): they run with an added
// RTT by default, so each declares impair.rtt among its own knobs with its
// own default; the run then applies it like any impair.* knob.

// withDefault is the impair.* knob name with another default value.
func withDefault(name, def string) scenario.Knob {
	for _, kn := range scenario.ImpairKnobs {
		if kn.Name == name {
			kn.Default = def
			return kn
		}
	}
	panic("no impair knob " + name)
}

// rttCases sweeps impair.rtt over values.
func rttCases(values ...string) []scenario.Knobs {
	var out []scenario.Knobs
	for _, v := range values {
		out = append(out, scenario.Knobs{"impair.rtt": v})
	}
	return out
}

// echoServer returns every byte it reads.
func echoServer(s *scenario.ServerEnv) error {
	return acceptWith(s, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

// echoes makes n one-byte round trips on c, so the kernel's smoothed RTT
// rests on more than the handshake's one sample.
func echoes(c net.Conn, n int) error {
	b := []byte{'x'}
	for range n {
		if _, err := c.Write(b); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, b); err != nil {
			return err
		}
	}
	return nil
}

// rttMS is the asked RTT in ms.
func rttMS(e *scenario.Env) float64 { return msOf(e.Knobs.Duration("impair.rtt")) }
