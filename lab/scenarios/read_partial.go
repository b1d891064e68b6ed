package scenarios

import (
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// readPartial: Read returns what is in the socket, even when it is less
// than the buffer; it does not wait to fill it. The peer sends "hi" and
// nothing more, so a Read that waited for 10 bytes would hit its deadline.
var readPartial = &scenario.Scenario{
	ID:      "read-partial",
	Section: "3 Read and Write",
	Title:   `peer sends "hi", reader's buffer is 10 bytes: Read returns 2 at once`,
	Timeout: 30 * time.Second,
	Obs:     scenario.ObsOf[ReadPartialObs](),
	Server:  sendAndHold("hi"),
	Client: func(e *scenario.Env) error {
		c, err := dialTCP(e)
		if err != nil {
			return err
		}
		defer c.Close()
		r, took := timedRead(c, 10, step)
		if err := e.Record(&ReadPartialObs{N: r.N, Err: r.Err, Data: r.Data, ReturnedAfterMS: scenario.Ms(took)}); err != nil {
			return err
		}
		e.Expect("n=2, err=nil", r.N == 2 && r.Err.Kind == "none" && r.Data == "hi", "%+v", r)
		e.Expect("without waiting for 10 bytes (well before the 5 s deadline)", took < time.Second, "returned after %v", took)
		e.Headline(`"hi" into a 10-byte buffer → n=%d err=%s after %.1f ms`, r.N, r.Err.Kind, scenario.Ms(took))
		return nil
	},
	Article: "n=2, err=nil (same)",
}

// ReadPartialObs is what read-partial observed: the one Read.
type ReadPartialObs struct {
	N               int              `json:"n"`
	Err             scenario.ErrInfo `json:"err"`
	Data            string           `json:"data"`
	ReturnedAfterMS float64          `json:"returned_after_ms"`
}
