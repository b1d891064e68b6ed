package scenarios

import (
	"net"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// readCloseNoData: the peer closes without sending; Read returns (0, io.EOF)
// at once (a FIN with nothing queued before it).
var readCloseNoData = &scenario.Scenario{
	ID:      "read-close-no-data",
	Section: "3 Read and Write",
	Title:   "peer closes without sending: (0, io.EOF)",
	Timeout: 30 * time.Second,
	Obs:     scenario.ObsOf[ReadCloseNoDataObs](),
	Server: func(s *scenario.ServerEnv) error {
		return acceptWith(s, func(c net.Conn) {})
	},
	Client: func(e *scenario.Env) error {
		c, err := dialTCP(e)
		if err != nil {
			return err
		}
		defer c.Close()
		r, took := timedRead(c, 10, step)
		if err := e.Record(&ReadCloseNoDataObs{Read: r, ReturnedAfterMS: scenario.Ms(took)}); err != nil {
			return err
		}
		e.Expect("(0, io.EOF)", r.N == 0 && r.Err.Kind == "EOF", "%+v", r)
		e.Expect("returns when the FIN arrives, not at the deadline", took < time.Second, "after %v", took)
		e.Headline("close without data → (%d, %s)", r.N, r.Err.Kind)
		return nil
	},
	Article: "Read returns EOF directly (same)",
}

// ReadCloseNoDataObs is what read-close-no-data observed.
type ReadCloseNoDataObs struct {
	Read            readResult `json:"read"`
	ReturnedAfterMS float64    `json:"returned_after_ms"`
}
