package scenarios

import (
	"fmt"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// readEnough: with 15 bytes waiting and a 10-byte buffer, Read fills the
// buffer and leaves the rest for the next Read. The driver waits until all
// 15 bytes sit in its receive queue (SIOCINQ) so the split is the buffer's,
// not the network's.
var readEnough = &scenario.Scenario{
	ID:      "read-enough",
	Section: "3 Read and Write",
	Title:   `peer sends "abcdefghij12345", reader's buffer is 10 bytes: 10 then 5`,
	Timeout: 30 * time.Second,
	Obs:     scenario.ObsOf[ReadEnoughObs](),
	Server:  sendAndHold("abcdefghij12345"),
	Client: func(e *scenario.Env) error {
		const msg = "abcdefghij12345"
		c, err := dialTCP(e)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := waitUntil(e, step, "15 bytes in the receive queue", func() (bool, error) {
			inq, _, err := queues(c)
			return inq == len(msg), err
		}); err != nil {
			return err
		}
		var ns []int
		var got []string
		buf := make([]byte, 10)
		for range 2 {
			if err := c.SetReadDeadline(time.Now().Add(step)); err != nil {
				return err
			}
			n, err := c.Read(buf)
			if err != nil {
				return fmt.Errorf("read %d: %w", len(ns)+1, err)
			}
			ns = append(ns, n)
			got = append(got, string(buf[:n]))
		}
		if err := e.Record(&ReadEnoughObs{N: ns, Data: got}); err != nil {
			return err
		}
		e.Expect("successive n are 10 then 5", ns[0] == 10 && ns[1] == 5, "n=%v", ns)
		e.Expect("the bytes come in order", got[0] == "abcdefghij" && got[1] == "12345", "data=%q", got)
		e.Headline("15 bytes, 10-byte buffer → n=%d then n=%d", ns[0], ns[1])
		return nil
	},
	Article: "10 then 5 (same)",
}

// ReadEnoughObs is what read-enough observed: n and the bytes of each of
// the two Reads.
type ReadEnoughObs struct {
	N    []int    `json:"n"`
	Data []string `json:"data"`
}
