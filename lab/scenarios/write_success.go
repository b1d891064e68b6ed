package scenarios

import (
	"io"
	"net"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// writeSuccess: the ordinary case, a 64 KiB Write to a peer that reads:
// n == len(b), err == nil, and the peer gets every byte.
var writeSuccess = &scenario.Scenario{
	ID:      "write-success",
	Section: "3 Read and Write",
	Title:   "ordinary Write to a reading peer: n == len, err nil",
	Timeout: 30 * time.Second,
	Knobs: []scenario.Knob{
		{Name: "client.size", Default: "65536", Kind: scenario.Int, Min: 1, Max: 64 << 20},
	},
	Obs: scenario.ObsOf[WriteSuccessObs](),
	Server: func(s *scenario.ServerEnv) error {
		return acceptWith(s, func(c net.Conn) {
			logErr("write-success deadline", c.SetReadDeadline(time.Now().Add(step)))
			n, _ := io.ReadFull(c, make([]byte, s.Knobs.Int("client.size")))
			s.Publish("received", n)
			holdOpen(s)
		})
	},
	Client: func(e *scenario.Env) error {
		size := e.Knobs.Int("client.size")
		c, err := dialTCP(e)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.SetWriteDeadline(time.Now().Add(step)); err != nil {
			return err
		}
		n, err := c.Write(make([]byte, size))
		var got int
		if gerr := e.GetWait("received", &got, step); gerr != nil {
			return gerr
		}
		if err := e.Record(&WriteSuccessObs{N: n, Err: scenario.Classify(err), PeerReceived: got}); err != nil {
			return err
		}
		e.Expect("n == len, err nil", n == size && err == nil, "n=%d of %d, err=%v", n, size, err)
		e.Expect("the peer received every byte", got == size, "peer read %d of %d", got, size)
		e.Headline("Write(%d bytes) → n=%d err=%v; peer read %d", size, n, err, got)
		return nil
	},
	Article: "n == len, err nil (same)",
}

// WriteSuccessObs is what write-success observed.
type WriteSuccessObs struct {
	N            int              `json:"n"`
	Err          scenario.ErrInfo `json:"err"`
	PeerReceived int              `json:"peer_received"` // bytes the server read
}
