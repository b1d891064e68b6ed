package scenarios

import (
	"net"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// closePeer: the server closes at once. The client's Read sees the FIN as
// io.EOF. Its first Write still succeeds (the bytes only go to its own send
// buffer, and the socket is merely half-closed), but the closed peer answers
// them with RST, after which Write fails with EPIPE (or ECONNRESET).
var closePeer = &scenario.Scenario{
	ID:      "close-peer",
	Section: "5 Closing",
	Title:   "the peer closed: Read gets io.EOF, the first Write succeeds, a later one fails",
	Timeout: 20 * time.Second,
	Weight:  fixed(2600 * time.Millisecond),
	Knobs: []scenario.Knob{
		{Name: "client.writes", Default: "5", Kind: scenario.Int, Min: 2, Max: 100, Help: "Writes attempted at most"},
		{Name: "client.write_gap", Default: "20ms", Kind: scenario.Duration, Min: 0, Max: 2, Help: "pause between Writes (lets the RST arrive)"},
	},
	Obs:    scenario.ObsOf[ClosePeerObs](),
	Server: perConn(func(*scenario.ServerEnv, net.Conn) {}),
	Client: func(e *scenario.Env) error {
		c, err := dialBounded(e)
		if err != nil {
			return err
		}
		defer c.Close()
		_, rerr := c.Read(make([]byte, 32))
		var writes []PeerWrite
		failedAt, gap := 0, e.Knobs.Duration("client.write_gap")
		var werr error
		for i := 1; i <= e.Knobs.Int("client.writes"); i++ {
			n, err := c.Write([]byte(peerMsg))
			writes = append(writes, PeerWrite{n, scenario.Classify(err)})
			if err != nil {
				failedAt, werr = i, err
				break
			}
			time.Sleep(gap)
		}
		return e.Record(&ClosePeerObs{ReadError: scenario.Classify(rerr), Writes: writes, WriteFailedAt: failedAt,
			WriteError: scenario.Classify(werr)})
	},
	Verdicts: scenario.VerdictsOf(func(_ scenario.Knobs, o *ClosePeerObs, v *scenario.Verdict) {
		v.Expect("Read returns io.EOF (the peer's FIN)", o.ReadError.Kind == "EOF", "Read: %+v", o.ReadError)
		w := o.Writes
		// Write 1 goes to this side's send buffer whole (the socket is
		// only half-closed, CLOSE_WAIT); the closed peer answers its
		// bytes with RST, which arrives within the write gap, so Write 2
		// is the first to fail. tcp_reset in CLOSE_WAIT sets EPIPE, and
		// a send on a reset socket returns EPIPE.
		v.Expect("the first Write succeeds whole", len(w) > 0 && w[0].Err.Kind == "none" && w[0].N == len(peerMsg),
			"writes %+v, want %d bytes", w, len(peerMsg))
		v.Expect("the second Write is the first to fail, with EPIPE, writing nothing", o.WriteFailedAt == 2 && len(w) == 2 &&
			w[1].N == 0 && w[1].Err.Kind == "EPIPE" && o.WriteError.Kind == "EPIPE", "failed at write %d: %+v; writes %+v", o.WriteFailedAt, o.WriteError, w)
		v.Headline("Read → %s; Write 1 ok; Write %d → %s", o.ReadError.Kind, o.WriteFailedAt, o.WriteError.Kind)
	}),
	Article: "the article's server saw read EOF then a successful write; the lab also shows the next write failing",
}

// peerMsg is what close-peer writes after the peer closed.
const peerMsg = "after the peer closed"

// ClosePeerObs is what close-peer observed.
type ClosePeerObs struct {
	ReadError     scenario.ErrInfo `json:"read_error"`
	Writes        []PeerWrite      `json:"writes"`                                  // in order, up to the first that failed
	WriteFailedAt int              `json:"write_failed_at" tcplab:"headline,exact"` // 1-based; 0 when none failed
	WriteError    scenario.ErrInfo `json:"write_error"`
}

// PeerWrite is one Write after the peer closed.
type PeerWrite struct {
	N   int              `json:"n" tcplab:"exact"`
	Err scenario.ErrInfo `json:"err"`
}
