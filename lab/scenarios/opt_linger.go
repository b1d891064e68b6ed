package scenarios

import (
	"io"
	"net"
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// optLinger: the server closes after reading the client's one byte (so no
// unread data forces a reset). With SetLinger(0) Close sends RST and the
// client's Read fails with ECONNRESET, and the server keeps no TIME_WAIT;
// by default Close sends FIN and the client reads io.EOF.
var optLinger = &scenario.Scenario{
	ID:      "opt-linger",
	Section: "4 Socket options",
	Title:   "peer closes with SetLinger(0) vs the default: ECONNRESET vs io.EOF",
	Timeout: 30 * time.Second,
	Weight:  fixed(3 * time.Second),
	Obs:     scenario.ObsOf[OptLingerObs](),
	Server: perConn(func(s *scenario.ServerEnv, c net.Conn) {
		mode := make([]byte, 1)
		if _, err := io.ReadFull(c, mode); err != nil {
			return
		}
		if mode[0] == 'l' { // "linger0"
			logErr("SetLinger(0)", c.(*net.TCPConn).SetLinger(0))
		}
	}),
	Client: func(e *scenario.Env) error {
		results := map[string]error{}
		for _, mode := range []string{"linger0", "default"} {
			c, err := dialBounded(e)
			if err != nil {
				return err
			}
			if _, err := c.Write([]byte(mode[:1])); err != nil {
				c.Close()
				return err
			}
			_, results[mode] = c.Read(make([]byte, 16))
			c.Close()
		}
		// The default close leaves the server's socket in TIME_WAIT once the
		// client has closed too; the reset one leaves nothing.
		var st map[string]int
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			s, err := e.Stats()
			if err != nil {
				return err
			}
			if st = s.States; st["TIME_WAIT"] >= 1 {
				break
			}
		}
		return e.Record(&OptLingerObs{Linger0Read: scenario.Classify(results["linger0"]), DefaultRead: scenario.Classify(results["default"]),
			ServerStates: st})
	},
	Verdicts: scenario.VerdictsOf(func(_ scenario.Knobs, o *OptLingerObs, v *scenario.Verdict) {
		l0, def := o.Linger0Read, o.DefaultRead
		// SO_LINGER with l_linger 0: close discards the socket and sends
		// RST (tcp_disconnect), which the peer's Read reports as
		// ECONNRESET; the default close sends FIN: io.EOF.
		v.Expect("SetLinger(0): the peer's Read fails with ECONNRESET (\"connection reset by peer\")",
			l0.Kind == "ECONNRESET" && strings.Contains(l0.Text, "connection reset by peer"), "Read: %+v", l0)
		v.Expect("default: the peer's Read returns io.EOF", def.Kind == "EOF", "Read: %+v", def)
		// The server closed first both times: the FIN close leaves its
		// socket in TIME_WAIT (60 s) once the client has closed too; the
		// RST one leaves nothing. Nothing else is on the port.
		v.Expect("the server's port holds exactly one socket, in TIME_WAIT: the default close's", len(o.ServerStates) == 1 && o.ServerStates["TIME_WAIT"] == 1,
			"server states %v", o.ServerStates)
		v.Headline("SetLinger(0) → %s; default → %s; server TIME_WAIT sockets %d", l0.Kind, def.Kind, o.ServerStates["TIME_WAIT"])
	}),
	Article: "the article only listed SetLinger; the lab shows what the peer sees",
}

// OptLingerObs is what opt-linger observed: the client's Read after the
// server closed each way.
type OptLingerObs struct {
	Linger0Read  scenario.ErrInfo `json:"linger0_read"`
	DefaultRead  scenario.ErrInfo `json:"default_read"`
	ServerStates map[string]int   `json:"server_states" tcplab:"headline,exact"` // socket states on the server's port
}
