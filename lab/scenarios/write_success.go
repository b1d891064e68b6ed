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
	Weight:  fixed(2700 * time.Millisecond),
	Knobs: []scenario.Knob{
		{Name: "client.size", Default: "65536", Kind: scenario.Int, Min: 1, Max: 64 << 20},
	},
	Obs: scenario.ObsOf[WriteSuccessObs](),
	Server: perConn(func(s *scenario.ServerEnv, c net.Conn) {
		logErr("write-success deadline", c.SetReadDeadline(time.Now().Add(step)))
		n, _ := io.ReadFull(c, make([]byte, s.Knobs.Int("client.size")))
		s.Publish("received", n)
		holdOpen(s)
	}),
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
		return e.Record(&WriteSuccessObs{N: n, Err: scenario.Classify(err), PeerReceived: got})
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *WriteSuccessObs, v *scenario.Verdict) {
		size := k.Int("client.size")
		// A blocking Write loops until the kernel took every byte, so it
		// returns len(b) and nil; the peer's ReadFull counts what arrived.
		v.Expect("n == len, err nil", o.N == size && o.Err.Kind == "none", "n=%d of %d, err %s", o.N, size, o.Err.Kind)
		v.Expect("the peer received every byte", o.PeerReceived == size, "peer read %d of %d", o.PeerReceived, size)
		v.Headline("Write(%d bytes) → n=%d err=%s; peer read %d", size, o.N, o.Err.Kind, o.PeerReceived)
	}),
	Article: "n == len, err nil (same)",
}

// WriteSuccessObs is what write-success observed.
type WriteSuccessObs struct {
	N            int              `json:"n" tcplab:"headline,exact"`
	Err          scenario.ErrInfo `json:"err"`
	PeerReceived int              `json:"peer_received" tcplab:"exact"` // bytes the server read
}
