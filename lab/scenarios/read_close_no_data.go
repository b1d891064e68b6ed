package scenarios

import (
	"net"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// readCloseNoData: the peer closes without sending; a Read blocked on the
// conn returns (0, io.EOF) when the FIN arrives (nothing queued before it).
// The peer closes D after the client's signal, so the Read's time pins that
// it returned on the FIN: neither before it nor at its deadline.
var readCloseNoData = &scenario.Scenario{
	ID:      "read-close-no-data",
	Section: "3 Read and Write",
	Title:   "peer closes without sending: (0, io.EOF)",
	Timeout: 30 * time.Second,
	Weight:  fixed(2400 * time.Millisecond), // + server.delay
	Knobs: []scenario.Knob{
		{Name: "server.delay", Default: "200ms", Kind: scenario.Duration, Min: 0.05, Max: 20, Help: "how long after the signal the peer closes"},
	},
	Obs: scenario.ObsOf[ReadCloseNoDataObs](),
	Server: perConn(func(s *scenario.ServerEnv, c net.Conn) {
		if s.Await("close") != nil {
			return
		}
		time.Sleep(s.Knobs.Duration("server.delay"))
	}),
	Client: func(e *scenario.Env) error {
		d := e.Knobs.Duration("server.delay")
		c, start, err := dialAndSignal(e, "close", d)
		if err != nil {
			return err
		}
		defer c.Close()
		r := readInto(c, 10)
		return e.Record(&ReadCloseNoDataObs{Read: r, ReturnedAfterMS: scenario.Ms(time.Since(start))})
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *ReadCloseNoDataObs, v *scenario.Verdict) {
		d := k.Duration("server.delay")
		v.Expect("(0, io.EOF)", o.Read.N == 0 && o.Read.Err.Kind == "EOF", "%+v", o.Read)
		// The server's timer starts when the signal reaches it; its close
		// sends the FIN, which wakes the Read: D plus the LAN trip.
		arrivesAt(v, "the Read returns when the FIN arrives", fromMS(o.ReturnedAfterMS), d, k)
		v.Headline("close without data after %v → (%d, %s) after %.1f ms", d, o.Read.N, o.Read.Err.Kind, o.ReturnedAfterMS)
	}),
	Article: "Read returns EOF directly (same)",
}

// ReadCloseNoDataObs is what read-close-no-data observed.
type ReadCloseNoDataObs struct {
	Read            readResult `json:"read"`
	ReturnedAfterMS float64    `json:"returned_after_ms" tcplab:"headline"` // from the client's signal
}
