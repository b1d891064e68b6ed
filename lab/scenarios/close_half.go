package scenarios

import (
	"io"
	"net"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// closeHalf: the client sends a request and CloseWrite()s (shutdown
// SHUT_WR, a FIN). The server reads the request then io.EOF, and can still
// answer; the client can no longer Write (EPIPE) but still reads the answer.
var closeHalf = &scenario.Scenario{
	ID:      "close-half",
	Section: "5 Closing",
	Title:   "CloseWrite: the peer reads io.EOF and can still answer",
	Timeout: 20 * time.Second,
	Weight:  fixed(2200 * time.Millisecond),
	Obs:     scenario.ObsOf[CloseHalfObs](),
	Server: perConn(func(s *scenario.ServerEnv, c net.Conn) {
		logErr("close-half deadline", c.SetDeadline(time.Now().Add(10*time.Second)))
		var r halfReport
		req, err := io.ReadAll(c) // until io.EOF (ReadAll returns nil for it)
		r.Request, r.ReadErr = string(req), scenario.Classify(err)
		if err == nil {
			_, err = c.Read(make([]byte, 1)) // and again: still io.EOF
			r.ReadAgain = scenario.Classify(err)
		}
		_, err = c.Write([]byte("answer to " + string(req)))
		r.WriteErr = scenario.Classify(err)
		s.Publish("server", r)
	}),
	Client: func(e *scenario.Env) error {
		c, err := dialTCP(e)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			return err
		}
		if _, err := c.Write([]byte(halfReq)); err != nil {
			return err
		}
		if err := c.CloseWrite(); err != nil {
			return err
		}
		_, werr := c.Write([]byte("more"))
		var answer []byte
		buf := make([]byte, 64)
		var rerr error
		for rerr == nil {
			var n int
			n, rerr = c.Read(buf)
			answer = append(answer, buf[:n]...)
		}
		var srv halfReport
		if err := e.GetWait("server", &srv, 10*time.Second); err != nil {
			return err
		}
		return e.Record(&CloseHalfObs{Server: srv, WriteAfterCloseWrite: scenario.Classify(werr), Answer: string(answer),
			ClientReadEnd: scenario.Classify(rerr)})
	},
	Verdicts: scenario.VerdictsOf(func(_ scenario.Knobs, o *CloseHalfObs, v *scenario.Verdict) {
		srv := o.Server
		// ReadAll returns nil at io.EOF; the next Read sees io.EOF again.
		v.Expect("the peer reads the request, then io.EOF", srv.Request == halfReq && srv.ReadErr.Kind == "none" && srv.ReadAgain.Kind == "EOF",
			"server read %q, ReadAll err %s, next Read %s", srv.Request, srv.ReadErr.Kind, srv.ReadAgain.Kind)
		v.Expect("the peer can still write back", srv.WriteErr.Kind == "none", "server Write: %+v", srv.WriteErr)
		v.Expect("this side still reads the answer, then io.EOF", o.Answer == "answer to "+halfReq && o.ClientReadEnd.Kind == "EOF",
			"read %q, then %+v", o.Answer, o.ClientReadEnd)
		// shutdown(SHUT_WR) sets SEND_SHUTDOWN: tcp_sendmsg fails with EPIPE.
		v.Expect("this side can no longer Write (EPIPE)", o.WriteAfterCloseWrite.Kind == "EPIPE", "Write after CloseWrite: %+v", o.WriteAfterCloseWrite)
		v.Headline("CloseWrite → peer read %q + io.EOF, answered %q; Write after CloseWrite → %s",
			srv.Request, o.Answer, o.WriteAfterCloseWrite.Kind)
	}),
	Article: "beyond the article: half-close with CloseWrite",
}

// halfReq is close-half's request.
const halfReq = "request"

type halfReport struct {
	Request   string           `json:"request"`
	ReadErr   scenario.ErrInfo `json:"readall_err"`
	ReadAgain scenario.ErrInfo `json:"read_again"`
	WriteErr  scenario.ErrInfo `json:"write_err"`
}

// CloseHalfObs is what close-half observed.
type CloseHalfObs struct {
	Server               halfReport       `json:"server"` // what the server saw and did
	WriteAfterCloseWrite scenario.ErrInfo `json:"write_after_closewrite"`
	Answer               string           `json:"answer" tcplab:"headline"` // what the client read back
	ClientReadEnd        scenario.ErrInfo `json:"client_read_end"`          // the Read that ended it
}
