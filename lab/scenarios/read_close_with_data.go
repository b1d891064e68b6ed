package scenarios

import (
	"net"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// readCloseWithData: the peer sends "hello" and closes before the reader
// starts. The data queued before the FIN is still delivered; only then does
// Read report io.EOF. The driver waits until its socket is in CLOSE_WAIT
// (the FIN arrived) with 5 bytes queued before its first Read.
var readCloseWithData = &scenario.Scenario{
	ID:      "read-close-with-data",
	Section: "3 Read and Write",
	Title:   `peer sends "hello" and closes before the reader starts: (5, nil) then (0, io.EOF)`,
	Timeout: 30 * time.Second,
	Weight:  fixed(2300 * time.Millisecond),
	Obs:     scenario.ObsOf[ReadCloseWithDataObs](),
	Server: perConn(func(s *scenario.ServerEnv, c net.Conn) {
		_, err := c.Write([]byte(closeMsg))
		logErr("read-close-with-data write", err)
	}),
	Client: func(e *scenario.Env) error {
		c, err := dialTCP(e)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := waitUntil(e, step, "peer's FIN with 5 bytes queued", func() (bool, error) {
			info, err := tcpInfo(c)
			if err != nil {
				return false, err
			}
			inq, _, err := queues(c)
			return info.State == tcpCloseWait && inq == len(closeMsg), err
		}); err != nil {
			return err
		}
		var reads []readResult
		for range 2 {
			r, _ := timedRead(c, 10, step)
			reads = append(reads, r)
		}
		return e.Record(&ReadCloseWithDataObs{Reads: reads})
	},
	Verdicts: scenario.VerdictsOf(func(_ scenario.Knobs, o *ReadCloseWithDataObs, v *scenario.Verdict) {
		v.Expect("two Reads", len(o.Reads) == 2, "%d Reads", len(o.Reads))
		if len(o.Reads) != 2 {
			return
		}
		r0, r1 := o.Reads[0], o.Reads[1]
		v.Expect(`first Read: what was queued before the FIN, (5, nil) "hello"`,
			r0.N == len(closeMsg) && r0.Err.Kind == "none" && r0.Data == closeMsg, "%+v", r0)
		v.Expect("second Read: (0, io.EOF)", r1.N == 0 && r1.Err.Kind == "EOF", "%+v", r1)
		v.Headline(`"hello" then close → (%d, %s) then (%d, %s)`, r0.N, r0.Err.Kind, r1.N, r1.Err.Kind)
	}),
	Article: "(5, nil) then EOF (same)",
}

// timedRead issues one Read into a size-byte buffer, bounded by a read
// deadline (a hang becomes a failure), and times it.
func timedRead(c net.Conn, size int, bound time.Duration) (readResult, time.Duration) {
	start := time.Now()
	if err := c.SetReadDeadline(start.Add(bound)); err != nil {
		return readResult{Err: scenario.Classify(err)}, time.Since(start)
	}
	buf := make([]byte, size)
	n, err := c.Read(buf)
	return readResult{N: n, Err: scenario.Classify(err), Data: string(buf[:n])}, time.Since(start)
}

// closeMsg is what the read-close-with-data peer sends before its FIN.
const closeMsg = "hello"

// ReadCloseWithDataObs is what read-close-with-data observed.
type ReadCloseWithDataObs struct {
	Reads []readResult `json:"reads" tcplab:"headline"` // the two Reads, in order
}

// readResult is one Read's outcome, for observations.
type readResult struct {
	N    int              `json:"n" tcplab:"exact"` // each scenario's peer sends a fixed number of bytes
	Err  scenario.ErrInfo `json:"err"`
	Data string           `json:"data,omitempty"`
}
