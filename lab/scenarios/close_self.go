package scenarios

import (
	"errors"
	"net"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// closeSelf: Read and Write on a conn this side has closed fail at once in
// Go itself (the fd is gone), with net.ErrClosed: "use of closed network
// connection". Nothing reaches the kernel or the peer.
var closeSelf = &scenario.Scenario{
	ID:      "close-self",
	Section: "5 Closing",
	Title:   "Read and Write on a conn this side closed",
	Timeout: 20 * time.Second,
	Obs:     scenario.ObsOf[CloseSelfObs](),
	Server:  acceptAll,
	Client: func(e *scenario.Env) error {
		c, err := net.DialTimeout("tcp", e.Addr(), 5*time.Second)
		if err != nil {
			return err
		}
		if err := c.Close(); err != nil {
			return err
		}
		start := time.Now()
		_, rerr := c.Read(make([]byte, 32))
		_, werr := c.Write(make([]byte, 32))
		took := time.Since(start)
		cerr := c.Close()
		if err := e.Record(&CloseSelfObs{ReadError: scenario.Classify(rerr), WriteError: scenario.Classify(werr),
			SecondCloseError: scenario.Classify(cerr), TookMS: scenario.Ms(took)}); err != nil {
			return err
		}
		e.Expect("Read: errors.Is(err, net.ErrClosed)", errors.Is(rerr, net.ErrClosed), "Read: %v", rerr)
		e.Expect("Write: errors.Is(err, net.ErrClosed)", errors.Is(werr, net.ErrClosed), "Write: %v", werr)
		e.Expect("both return at once (no blocking)", took < 100*time.Millisecond, "took %v", took)
		e.Headline("Read → %q, Write → %q", rerr, werr)
		return nil
	},
	Article: "\"use of closed network connection\" for both (same)",
}

// CloseSelfObs is what close-self observed on the conn after its Close.
type CloseSelfObs struct {
	ReadError        scenario.ErrInfo `json:"read_error"`
	WriteError       scenario.ErrInfo `json:"write_error"`
	SecondCloseError scenario.ErrInfo `json:"second_close_error"`
	TookMS           float64          `json:"took_ms"` // the Read and the Write together
}
