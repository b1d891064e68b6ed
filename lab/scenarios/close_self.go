package scenarios

import (
	"strings"
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
	Weight:  fixed(2 * time.Second),
	Obs:     scenario.ObsOf[CloseSelfObs](),
	Server:  acceptAll,
	Client: func(e *scenario.Env) error {
		c, err := dialTCP(e)
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
		return e.Record(&CloseSelfObs{ReadError: scenario.Classify(rerr), WriteError: scenario.Classify(werr),
			SecondCloseError: scenario.Classify(cerr), TookMS: scenario.Ms(took)})
	},
	Verdicts: scenario.VerdictsOf(func(_ scenario.Knobs, o *CloseSelfObs, v *scenario.Verdict) {
		closed := func(e scenario.ErrInfo) bool {
			return e.Kind == "ErrClosed" && strings.Contains(e.Text, "use of closed network connection")
		}
		v.Expect("Read: net.ErrClosed, \"use of closed network connection\"", closed(o.ReadError), "Read: %+v", o.ReadError)
		v.Expect("Write: net.ErrClosed, \"use of closed network connection\"", closed(o.WriteError), "Write: %+v", o.WriteError)
		v.Expect("a second Close: net.ErrClosed too", closed(o.SecondCloseError), "Close: %+v", o.SecondCloseError)
		// Go's fd is gone: both fail in Go itself, before any system
		// call; would either wait (for the peer, which never writes, or
		// for a timer), it would hang until the run's timeout. 20 ms
		// leaves room for a preemption on a busy machine (measured 0.0).
		v.Expect("both return at once (no system call, no wait)", o.TookMS < 20, "took %.1f ms", o.TookMS)
		v.Headline("Read → %q, Write → %q", o.ReadError.Text, o.WriteError.Text)
	}),
	Article: "\"use of closed network connection\" for both (same)",
}

// CloseSelfObs is what close-self observed on the conn after its Close.
type CloseSelfObs struct {
	ReadError        scenario.ErrInfo `json:"read_error" tcplab:"headline"`
	WriteError       scenario.ErrInfo `json:"write_error"`
	SecondCloseError scenario.ErrInfo `json:"second_close_error"`
	// TookMS: the Read and the Write together, microseconds of Go code,
	// which no mechanism fixes: checked only to be no wait.
	TookMS float64 `json:"took_ms" tcplab:"info"`
}
