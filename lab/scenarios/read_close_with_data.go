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
	Obs:     scenario.ObsOf[ReadCloseWithDataObs](),
	Server: func(s *scenario.ServerEnv) error {
		return acceptWith(s, func(c net.Conn) {
			_, err := c.Write([]byte("hello"))
			logErr("read-close-with-data write", err)
		})
	},
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
			return info.State == tcpCloseWait && inq == 5, err
		}); err != nil {
			return err
		}
		var reads []readResult
		for range 2 {
			r, _ := timedRead(c, 10, step)
			reads = append(reads, r)
		}
		if err := e.Record(&ReadCloseWithDataObs{Reads: reads}); err != nil {
			return err
		}
		e.Expect("first Read: (5, nil) \"hello\"", reads[0].N == 5 && reads[0].Err.Kind == "none" && reads[0].Data == "hello",
			"%+v", reads[0])
		e.Expect("second Read: (0, io.EOF)", reads[1].N == 0 && reads[1].Err.Kind == "EOF", "%+v", reads[1])
		e.Headline(`"hello" then close → (%d, %s) then (%d, %s)`, reads[0].N, reads[0].Err.Kind, reads[1].N, reads[1].Err.Kind)
		return nil
	},
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

// ReadCloseWithDataObs is what read-close-with-data observed.
type ReadCloseWithDataObs struct {
	Reads []readResult `json:"reads"` // the two Reads, in order
}

// readResult is one Read's outcome, for observations.
type readResult struct {
	N    int              `json:"n"`
	Err  scenario.ErrInfo `json:"err"`
	Data string           `json:"data,omitempty"`
}
