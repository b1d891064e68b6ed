package scenarios

import (
	"fmt"
	"net"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// readNoData: a Read on a conn with nothing in the socket parks the
// goroutine in the poller until data arrives. The server sends "hi" D after
// the client's signal, so Read cannot return before D.
var readNoData = &scenario.Scenario{
	ID:      "read-no-data",
	Section: "3 Read and Write",
	Title:   "peer sends nothing for D, then sends: Read blocks until the data arrives",
	Timeout: 30 * time.Second,
	Weight:  fixed(3700 * time.Millisecond),
	Knobs: []scenario.Knob{
		{Name: "server.delay", Default: "1s", Kind: scenario.Duration, Min: 0.05, Max: 20, Help: "how long the peer stays silent"},
	},
	Obs: scenario.ObsOf[ReadNoDataObs](),
	Server: perConn(func(s *scenario.ServerEnv, c net.Conn) {
		if s.Await("send") != nil {
			return
		}
		time.Sleep(s.Knobs.Duration("server.delay"))
		_, err := c.Write([]byte(noDataMsg))
		logErr("read-no-data write", err)
		holdOpen(s)
	}),
	Client: func(e *scenario.Env) error {
		d := e.Knobs.Duration("server.delay")
		c, start, err := dialAndSignal(e, "send", d)
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 10)
		n, err := c.Read(buf)
		took := time.Since(start)
		if err != nil {
			return fmt.Errorf("read after %v: %w", took, err)
		}
		return e.Record(&ReadNoDataObs{ReturnedAfterMS: scenario.Ms(took), N: n, Data: string(buf[:n])})
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *ReadNoDataObs, v *scenario.Verdict) {
		d := k.Duration("server.delay")
		// The server's timer starts when the client's signal reaches it,
		// so D is a hard lower bound; the Read returns when "hi" arrives:
		// D plus the LAN trip, late only by scheduling.
		arrivesAt(v, "Read stays blocked until the data arrives, and returns then", fromMS(o.ReturnedAfterMS), d, k)
		v.Expect(`Read returns what the peer sent: (2, nil) "hi"`, o.N == len(noDataMsg) && o.Data == noDataMsg, "n=%d %q", o.N, o.Data)
		v.Headline("peer silent %v → Read returned %q after %.1f ms", d, o.Data, o.ReturnedAfterMS)
	}),
	Article: "Read blocks until data arrives (same)",
}

// noDataMsg is what the read-no-data server sends after its delay.
const noDataMsg = "hi"

// ReadNoDataObs is what read-no-data observed.
type ReadNoDataObs struct {
	ReturnedAfterMS float64 `json:"returned_after_ms" tcplab:"headline"` // from the client's signal to the server
	N               int     `json:"n" tcplab:"exact"`                    // the server sent len(noDataMsg) bytes
	Data            string  `json:"data"`
}
