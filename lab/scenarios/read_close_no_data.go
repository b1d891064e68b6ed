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
	Server: func(s *scenario.ServerEnv) error {
		return acceptWith(s, func(c net.Conn) {})
	},
	Client: func(e *scenario.Env) error {
		c, err := dialTCP(e)
		if err != nil {
			return err
		}
		defer c.Close()
		start := time.Now()
		c.SetReadDeadline(start.Add(step))
		buf := make([]byte, 10)
		n, err := c.Read(buf)
		took := time.Since(start)
		r := readResult{N: n, Err: scenario.Classify(err), Data: string(buf[:n])}
		e.Observe("read", r)
		e.Observe("returned_after_ms", scenario.Ms(took))
		e.Expect("(0, io.EOF)", n == 0 && r.Err.Kind == "EOF", "%+v", r)
		e.Expect("returns when the FIN arrives, not at the deadline", took < time.Second, "after %v", took)
		e.Headline("close without data → (%d, %s)", n, r.Err.Kind)
		return nil
	},
	Article: "Read returns EOF directly (same)",
}
