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
	Knobs: []scenario.Knob{
		{Name: "server.delay", Default: "1s", Kind: scenario.Duration, Min: 0.05, Max: 20, Help: "how long the peer stays silent"},
	},
	Obs: scenario.ObsOf[ReadNoDataObs](),
	Server: func(s *scenario.ServerEnv) error {
		return acceptWith(s, func(c net.Conn) {
			if s.Await("send") != nil {
				return
			}
			time.Sleep(s.Knobs.Duration("server.delay"))
			_, err := c.Write([]byte("hi"))
			logErr("read-no-data write", err)
			holdOpen(s)
		})
	},
	Client: func(e *scenario.Env) error {
		d := e.Knobs.Duration("server.delay")
		c, err := dialTCP(e)
		if err != nil {
			return err
		}
		defer c.Close()
		start := time.Now()
		if err := e.Signal("send"); err != nil {
			return err
		}
		if err := c.SetReadDeadline(start.Add(d + step)); err != nil { // the step bound: fail, not hang
			return err
		}
		buf := make([]byte, 10)
		n, err := c.Read(buf)
		took := time.Since(start)
		if err != nil {
			return fmt.Errorf("read after %v: %w", took, err)
		}
		// The server's sleep starts after the signal, so D is a hard lower
		// bound; above it only the signal's and the data's trip and
		// scheduling (250 ms on a loaded 2-core host).
		if err := e.Record(&ReadNoDataObs{ReturnedAfterMS: scenario.Ms(took), DelayMS: scenario.Ms(d), N: n, Data: string(buf[:n])}); err != nil {
			return err
		}
		e.Expect("Read stays blocked until the data arrives (D … D+250 ms)", scenario.OnTime(took, d, 0, 250*time.Millisecond),
			"returned after %v, D=%v", took.Round(time.Millisecond), d)
		e.Expect("Read returns the data", string(buf[:n]) == "hi", "n=%d %q", n, buf[:n])
		e.Headline("peer silent %v → Read returned %q after %.1f ms", d, buf[:n], scenario.Ms(took))
		return nil
	},
	Article: "Read blocks until data arrives (same)",
}

// ReadNoDataObs is what read-no-data observed.
type ReadNoDataObs struct {
	ReturnedAfterMS float64 `json:"returned_after_ms"` // from the client's signal to the server
	DelayMS         float64 `json:"delay_ms"`          // server.delay
	N               int     `json:"n"`
	Data            string  `json:"data"`
}
