package scenarios

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// The write scenarios' server: a sink that does not read until told to.

// sinkSide is what the write scenarios' server reports about its side of
// a connection at the moment the client's Write blocked.
type sinkSide struct {
	RcvBuf int `json:"rcvbuf"` // SO_RCVBUF in force
	InQ    int `json:"inq"`    // bytes in its receive queue, unread
}

// sink is the server of the write scenarios: it does not read. Connections
// are dialled one at a time, so the i-th accept is the client's i-th
// connection, named "c<i>/". On "c<i>/probe" it publishes its sinkSide,
// then on "c<i>/go" it does then: "read" reads server.read_size bytes every
// server.read_every (the article's server5), "die" closes the socket with
// the data unread, as an exiting process does (the kernel sends RST).
//
// server.read_buffer > 0 sets SO_RCVBUF, the option SetReadBuffer sets, on
// the listener, so accepted conns have it from the handshake on. Calling
// SetReadBuffer on the accepted conn is too late: the window was offered
// with the default buffer, and the totals then vary from run to run.
func sink(then string) func(*scenario.ServerEnv) error {
	return func(s *scenario.ServerEnv) error {
		lc := net.ListenConfig{Control: func(_, _ string, raw syscall.RawConn) error {
			rb := knobInt(s.Knobs, "server.read_buffer")
			if rb == 0 {
				return nil
			}
			return setSockInt(raw, soRcvBuf, rb)
		}}
		ln, err := lc.Listen(s.Ctx, "tcp", ":"+strconv.Itoa(scenario.Port))
		if err != nil {
			return err
		}
		var next atomic.Int64
		return acceptOn(s, ln, func(c net.Conn) {
			p := "c" + strconv.FormatInt(next.Add(1)-1, 10) + "/"
			if s.Await(p+"probe") != nil {
				return
			}
			var side sinkSide
			_, side.RcvBuf, _ = sockBufs(c)
			side.InQ, _, _ = queues(c)
			s.Publish(p+"probe", side)
			if s.Await(p+"go") != nil {
				return
			}
			switch then {
			case "die":
				return // acceptWith closes c with the data unread
			case "read":
				readEvery(s, c)
			}
			<-s.Ctx.Done()
		})
	}
}

// readEvery reads server.read_size bytes every server.read_every until the
// connection or the run ends.
func readEvery(s *scenario.ServerEnv, c net.Conn) {
	every := s.Knobs.Duration("server.read_every")
	buf := make([]byte, knobInt(s.Knobs, "server.read_size"))
	for {
		select {
		case <-s.Ctx.Done():
			return
		case <-time.After(every):
		}
		if err := c.SetReadDeadline(time.Now().Add(every)); err != nil {
			logErr("sink deadline", err)
			return
		}
		if _, err := c.Read(buf); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
	}
}

// probeSink asks the sink about connection i.
func probeSink(e *scenario.Env, i int) (sinkSide, error) {
	var side sinkSide
	p := fmt.Sprintf("c%d/", i)
	if err := e.Signal(p + "probe"); err != nil {
		return side, err
	}
	return side, e.GetWait(p+"probe", &side, step)
}

// holdOpen keeps an accepted conn open until the run ends.
func holdOpen(s *scenario.ServerEnv) { <-s.Ctx.Done() }
