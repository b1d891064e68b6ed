package scenarios

import (
	"errors"
	"io"
	"net"
	"syscall"
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
	Knobs: []scenario.Knob{
		{Name: "client.writes", Default: "5", Kind: scenario.Int, Min: 2, Max: 100, Help: "Writes attempted at most"},
		{Name: "client.write_gap", Default: "20ms", Kind: scenario.Duration, Min: 0, Max: 2, Help: "pause between Writes (lets the RST arrive)"},
	},
	Obs:    scenario.ObsOf[ClosePeerObs](),
	Server: func(s *scenario.ServerEnv) error { return acceptWith(s, func(net.Conn) {}) },
	Client: func(e *scenario.Env) error {
		c, err := net.DialTimeout("tcp", e.Addr(), 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			return err
		}
		_, rerr := c.Read(make([]byte, 32))
		var writes []PeerWrite
		failedAt, gap := 0, e.Knobs.Duration("client.write_gap")
		var werr error
		for i := 1; i <= e.Knobs.Int("client.writes"); i++ {
			n, err := c.Write([]byte("after the peer closed"))
			writes = append(writes, PeerWrite{n, scenario.Classify(err)})
			if err != nil {
				failedAt, werr = i, err
				break
			}
			time.Sleep(gap)
		}
		if err := e.Record(&ClosePeerObs{ReadError: scenario.Classify(rerr), Writes: writes, WriteFailedAt: failedAt,
			WriteError: scenario.Classify(werr)}); err != nil {
			return err
		}
		e.Expect("Read returns io.EOF", rerr == io.EOF, "Read: %v", rerr)
		e.Expect("the first Write succeeds", len(writes) > 0 && writes[0].Err.Kind == "none", "writes %+v", writes)
		e.Expect("a later Write fails with EPIPE or ECONNRESET", failedAt >= 2 &&
			(errors.Is(werr, syscall.EPIPE) || errors.Is(werr, syscall.ECONNRESET)), "failed at write %d: %v", failedAt, werr)
		e.Headline("Read → %s; Write 1 ok; Write %d → %s", scenario.Classify(rerr).Kind, failedAt, scenario.Classify(werr).Kind)
		return nil
	},
	Article: "the article's server saw read EOF then a successful write; the lab also shows the next write failing",
}

// ClosePeerObs is what close-peer observed.
type ClosePeerObs struct {
	ReadError     scenario.ErrInfo `json:"read_error"`
	Writes        []PeerWrite      `json:"writes"`          // in order, up to the first that failed
	WriteFailedAt int              `json:"write_failed_at"` // 1-based; 0 when none failed
	WriteError    scenario.ErrInfo `json:"write_error"`
}

// PeerWrite is one Write after the peer closed.
type PeerWrite struct {
	N   int              `json:"n"`
	Err scenario.ErrInfo `json:"err"`
}
