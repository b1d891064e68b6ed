package scenarios

import (
	"fmt"
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
	Weight:  fixed(2700 * time.Millisecond),
	Obs:     scenario.ObsOf[ReadDeadlinePastObs](),
	Server:  sendAndHold(pastMsg),
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
			return inq == len(pastMsg), err
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
		return e.Record(&ReadDeadlinePastObs{WaitingBytes: waiting, Past: past, PastMS: scenario.Ms(tookPast),
			Cleared: cleared, ClearedMS: scenario.Ms(took)})
	},
	Verdicts: scenario.VerdictsOf(func(_ scenario.Knobs, o *ReadDeadlinePastObs, v *scenario.Verdict) {
		v.Expect("deadline in the past: (0, os.ErrDeadlineExceeded) with data waiting",
			o.Past.N == 0 && o.Past.Err.Kind == "ErrDeadlineExceeded" && o.Past.Err.Timeout, "%+v, %d bytes waiting", o.Past, o.WaitingBytes)
		// Go checks the deadline before it calls read(2) and never parks:
		// the time is scheduling only.
		v.Expect(fmt.Sprintf("at once (under %v)", pastBound), fromMS(o.PastMS) < pastBound, "returned after %.1f ms", o.PastMS)
		v.Expect(`deadline cleared: the same conn reads "hi"`,
			o.Cleared.N == len(pastMsg) && o.Cleared.Data == pastMsg && o.Cleared.Err.Kind == "none", "%+v", o.Cleared)
		v.Headline(`deadline 1 s ago, %d bytes waiting → n=%d %s after %.1f ms; cleared → %q`,
			o.WaitingBytes, o.Past.N, o.Past.Err.Kind, o.PastMS, o.Cleared.Data)
	}),
	Article: "beyond the article: what a stale deadline does to the next Read",
}

// timedReadNoDeadline is one Read with whatever deadline c has, timed.
func timedReadNoDeadline(c net.Conn, size int) (readResult, time.Duration) {
	start := time.Now()
	buf := make([]byte, size)
	n, err := c.Read(buf)
	return readResult{N: n, Err: scenario.Classify(err), Data: string(buf[:n])}, time.Since(start)
}

// pastMsg is what the read-deadline-past peer sends.
const pastMsg = "hi"

// pastBound is how long a Read under a past deadline may take: it makes
// no system call that waits, so only scheduling on a busy 2-core host.
const pastBound = 10 * time.Millisecond

// ReadDeadlinePastObs is what read-deadline-past observed.
type ReadDeadlinePastObs struct {
	// WaitingBytes is SIOCINQ before the first Read: the driver waits
	// until it is len(pastMsg), so it is a precondition, not a finding.
	WaitingBytes int        `json:"waiting_bytes" tcplab:"info"`
	Past         readResult `json:"past" tcplab:"headline"` // the Read under a deadline 1 s ago
	// PastMS is checked against pastBound but cannot be pinned closer:
	// it is microseconds of scheduling, and n=0 with data waiting is what
	// shows the deadline was checked before read(2).
	PastMS    float64    `json:"past_ms" tcplab:"info"`
	Cleared   readResult `json:"cleared"`                  // the Read after SetReadDeadline(time.Time{})
	ClearedMS float64    `json:"cleared_ms" tcplab:"info"` // the data is queued: microseconds, unchecked
}
