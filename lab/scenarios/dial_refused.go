package scenarios

import (
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// dialRefused: nothing listens on the port, so the server's kernel answers
// the SYN with RST and Dial fails at once with ECONNREFUSED.
var dialRefused = &scenario.Scenario{
	ID:      "dial-refused",
	Section: "2 Connection set-up",
	Title:   "dial a container where nothing listens on the port",
	Timeout: 20 * time.Second,
	Knobs: []scenario.Knob{
		{Name: "client.dials", Default: "5", Kind: scenario.Int, Min: 1, Max: 1000, Help: "how many dials to time"},
	},
	Obs: scenario.ObsOf[DialRefusedObs](),
	Client: func(e *scenario.Env) error {
		var worst time.Duration
		var last error
		refused := 0
		n := e.Knobs.Int("client.dials")
		for range n {
			start := time.Now()
			c, err := net.DialTimeout("tcp", e.Addr(), 5*time.Second)
			d := time.Since(start)
			if c != nil {
				c.Close()
			}
			worst = max(worst, d)
			last = err
			if errors.Is(err, syscall.ECONNREFUSED) {
				refused++
			}
		}
		if err := e.Record(&DialRefusedObs{Error: scenario.Classify(last), Refused: refused, SlowestMS: scenario.Ms(worst)}); err != nil {
			return err
		}
		e.Expect("errors.Is(err, syscall.ECONNREFUSED)", refused == n, "%d of %d dials refused; last error %v", refused, n, last)
		e.Expect("fails in well under 100 ms", worst < 100*time.Millisecond, "slowest dial took %v", worst)
		e.Headline("%d/%d refused, slowest %.1f ms", refused, n, scenario.Ms(worst))
		return nil
	},
	Article: "connection refused at once (same)",
}

// DialRefusedObs is what dial-refused observed.
type DialRefusedObs struct {
	Error     scenario.ErrInfo `json:"error"`   // the last dial's
	Refused   int              `json:"refused"` // dials that matched ECONNREFUSED
	SlowestMS float64          `json:"slowest_ms"`
}
