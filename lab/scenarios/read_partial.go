package scenarios

import (
	"net"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// readPartial: Read returns what is in the socket, even when it is less
// than the buffer; it does not wait to fill it. On the client's signal the
// peer sends "hi", then "there" D later. The first Read (10-byte buffer)
// returns (2, nil) "hi" as soon as "hi" arrives: had it waited to fill its
// buffer it would have returned "hithere" (7) at D or later. The second
// Read returns "there" when it arrives, D after the signal: the timer that
// pins the clock of the exchange.
var readPartial = &scenario.Scenario{
	ID:      "read-partial",
	Section: "3 Read and Write",
	Title:   `peer sends "hi", reader's buffer is 10 bytes: Read returns 2 at once`,
	Timeout: 30 * time.Second,
	Weight:  fixed(2900 * time.Millisecond), // + server.delay
	Knobs: []scenario.Knob{
		{Name: "server.delay", Default: "200ms", Kind: scenario.Duration, Min: 0.05, Max: 20, Help: `how long after "hi" the peer sends "there"`},
	},
	Obs: scenario.ObsOf[ReadPartialObs](),
	Server: perConn(func(s *scenario.ServerEnv, c net.Conn) {
		if s.Await("send") != nil {
			return
		}
		_, err := c.Write([]byte(partialFirst))
		logErr("read-partial write", err)
		time.Sleep(s.Knobs.Duration("server.delay"))
		_, err = c.Write([]byte(partialRest))
		logErr("read-partial write", err)
		holdOpen(s)
	}),
	Client: func(e *scenario.Env) error {
		d := e.Knobs.Duration("server.delay")
		c, start, err := dialAndSignal(e, "send", d)
		if err != nil {
			return err
		}
		defer c.Close()
		first := readInto(c, partialBuf)
		took := time.Since(start)
		rest := readInto(c, partialBuf)
		tookRest := time.Since(start)
		return e.Record(&ReadPartialObs{N: first.N, Err: first.Err, Data: first.Data, ReturnedAfterMS: scenario.Ms(took),
			Rest: rest, RestAfterMS: scenario.Ms(tookRest)})
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *ReadPartialObs, v *scenario.Verdict) {
		d := k.Duration("server.delay")
		v.Expect(`the first Read returns what is there, less than its buffer: (2, nil) "hi"`,
			o.N == len(partialFirst) && o.N < partialBuf && o.Err.Kind == "none" && o.Data == partialFirst, "n=%d err=%s %q", o.N, o.Err.Kind, o.Data)
		// "there" leaves the server D after "hi": a first Read that had
		// waited for more would return at D or later.
		v.Expect(`it returns before the rest is sent (D after "hi")`, fromMS(o.ReturnedAfterMS) < d, "after %.1f ms, D=%v", o.ReturnedAfterMS, d)
		v.Expect(`the second Read returns the rest: (5, nil) "there"`,
			o.Rest.N == len(partialRest) && o.Rest.Err.Kind == "none" && o.Rest.Data == partialRest, "%+v", o.Rest)
		// The server's timer starts when the signal reaches it: D plus the
		// LAN trip, late only by scheduling.
		arrivesAt(v, "the second Read returns when the rest arrives, D after the signal", fromMS(o.RestAfterMS), d, k)
		v.Headline(`"hi" into a 10-byte buffer → n=%d err=%s after %.1f ms (the rest %q after %.1f ms)`,
			o.N, o.Err.Kind, o.ReturnedAfterMS, o.Rest.Data, o.RestAfterMS)
	}),
	Article: "n=2, err=nil (same)",
}

// What the read-partial peer sends, in two parts D apart, and the reader's
// buffer.
const (
	partialFirst = "hi"
	partialRest  = "there"
	partialBuf   = 10
)

// readInto is one Read into a size-byte buffer under c's deadline.
func readInto(c net.Conn, size int) readResult {
	buf := make([]byte, size)
	n, err := c.Read(buf)
	return readResult{N: n, Err: scenario.Classify(err), Data: string(buf[:n])}
}

// ReadPartialObs is what read-partial observed: the first Read, and the
// second that returns the rest.
type ReadPartialObs struct {
	N    int              `json:"n" tcplab:"headline,exact"` // the server sent len(partialFirst) bytes first
	Err  scenario.ErrInfo `json:"err"`
	Data string           `json:"data"`
	// ReturnedAfterMS is the first Read's time from the signal: "hi"'s
	// trip, a millisecond or so on the LAN, so only its bound (< D) is
	// checked; n=2 is what shows the Read did not wait.
	ReturnedAfterMS float64    `json:"returned_after_ms" tcplab:"info"`
	Rest            readResult `json:"rest"`          // the second Read
	RestAfterMS     float64    `json:"rest_after_ms"` // its time from the signal
}
