package scenarios

import (
	"net"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// readDeadlinePast: a read deadline already in the past fails Read at once
// with os.ErrDeadlineExceeded, even while data waits in the socket: Go
// checks the deadline before it reads. Clearing the deadline (the zero
// time) makes the same conn read the data. The article sets deadlines
// before every Read; this is what an old one left in place does.
var readDeadlinePast = &scenario.Scenario{
	ID:      "read-deadline-past",
	Section: "3 Read and Write",
	Title:   `a read deadline in the past: Read fails at once though "hi" waits; cleared, it reads "hi"`,
	Timeout: 30 * time.Second,
	Obs:     scenario.ObsOf[ReadDeadlinePastObs](),
	Server:  sendAndHold("hi"),
	Client: func(e *scenario.Env) error {
		c, err := dialTCP(e)
		if err != nil {
			return err
		}
		defer c.Close()
		var waiting int // bytes in the receive queue before the Read
		if err := waitUntil(e, step, `"hi" in the receive queue`, func() (bool, error) {
			inq, _, err := queues(c)
			waiting = inq
			return inq == 2, err
		}); err != nil {
			return err
		}
		if err := c.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
			return err
		}
		past, tookPast := timedReadNoDeadline(c, 10)
		if err := c.SetReadDeadline(time.Time{}); err != nil {
			return err
		}
		cleared, took := timedRead(c, 10, step)
		if err := e.Record(&ReadDeadlinePastObs{WaitingBytes: waiting, Past: past, PastMS: scenario.Ms(tookPast),
			Cleared: cleared, ClearedMS: scenario.Ms(took)}); err != nil {
			return err
		}
		e.Expect("deadline in the past: (0, os.ErrDeadlineExceeded) with data waiting",
			past.N == 0 && past.Err.Kind == "ErrDeadlineExceeded" && past.Err.Timeout, "%+v, %d bytes waiting", past, waiting)
		e.Expect("at once (under 100 ms)", tookPast < 100*time.Millisecond, "returned after %v", tookPast)
		e.Expect(`deadline cleared: the same conn reads "hi"`, cleared.N == 2 && cleared.Data == "hi" && cleared.Err.Kind == "none", "%+v", cleared)
		e.Headline(`deadline 1 s ago, %d bytes waiting → n=%d %s after %.1f ms; cleared → %q`,
			waiting, past.N, past.Err.Kind, scenario.Ms(tookPast), cleared.Data)
		return nil
	},
	Article: "beyond the article: what a stale deadline does to the next Read",
}

// timedReadNoDeadline is one Read with whatever deadline c has, timed.
func timedReadNoDeadline(c net.Conn, size int) (readResult, time.Duration) {
	start := time.Now()
	buf := make([]byte, size)
	n, err := c.Read(buf)
	return readResult{N: n, Err: scenario.Classify(err), Data: string(buf[:n])}, time.Since(start)
}

// ReadDeadlinePastObs is what read-deadline-past observed.
type ReadDeadlinePastObs struct {
	WaitingBytes int        `json:"waiting_bytes"` // SIOCINQ before the first Read
	Past         readResult `json:"past"`          // the Read under a deadline 1 s ago
	PastMS       float64    `json:"past_ms"`
	Cleared      readResult `json:"cleared"` // the Read after SetReadDeadline(time.Time{})
	ClearedMS    float64    `json:"cleared_ms"`
}
