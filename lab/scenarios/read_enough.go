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
	Weight:  fixed(2100 * time.Millisecond),
	Obs:     scenario.ObsOf[ReadEnoughObs](),
	Server:  sendAndHold(enoughMsg),
	Client: func(e *scenario.Env) error {
		const msg = enoughMsg
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
		buf := make([]byte, enoughBuf)
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
		return e.Record(&ReadEnoughObs{N: ns, Data: got})
	},
	Verdicts: scenario.VerdictsOf(func(_ scenario.Knobs, o *ReadEnoughObs, v *scenario.Verdict) {
		// All of the message is queued: the first Read fills its buffer,
		// the second takes the rest.
		first, rest := enoughMsg[:enoughBuf], enoughMsg[enoughBuf:]
		v.Expect("two Reads", len(o.N) == 2 && len(o.Data) == 2, "n=%v data=%q", o.N, o.Data)
		if len(o.N) != 2 || len(o.Data) != 2 {
			return
		}
		v.Expect(fmt.Sprintf("successive n are %d (the buffer) then %d (the rest)", len(first), len(rest)),
			o.N[0] == len(first) && o.N[1] == len(rest), "n=%v", o.N)
		v.Expect("the bytes come in order", o.Data[0] == first && o.Data[1] == rest, "data=%q", o.Data)
		v.Headline("%d bytes, %d-byte buffer → n=%d then n=%d", len(enoughMsg), enoughBuf, o.N[0], o.N[1])
	}),
	Article: "10 then 5 (same)",
}

// What the read-enough peer sends, and the reader's buffer.
const (
	enoughMsg = "abcdefghij12345"
	enoughBuf = 10
)

// ReadEnoughObs is what read-enough observed: n and the bytes of each of
// the two Reads.
type ReadEnoughObs struct {
	N    []int    `json:"n" tcplab:"headline,exact"`
	Data []string `json:"data"`
}
