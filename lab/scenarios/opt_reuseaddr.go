package scenarios

import (
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// optReuseAddr: the server actively closes a few connections, so their
// sockets sit in TIME_WAIT on port 8080, then restarts its listener. Go sets
// SO_REUSEADDR on every listener, so Listen succeeds; the same Listen with
// SO_REUSEADDR cleared fails with EADDRINUSE. Go's backlog is somaxconn.
var optReuseAddr = &scenario.Scenario{
	ID:      "opt-reuseaddr",
	Section: "4 Socket options",
	Title:   "restart a listener while its port has TIME_WAIT sockets",
	Timeout: 30 * time.Second,
	Weight:  fixed(2600 * time.Millisecond),
	Knobs: []scenario.Knob{
		{Name: "server.somaxconn", Default: "512", Kind: scenario.Int, Min: 1, Max: 65535, Help: "becomes Go's listen backlog"},
		{Name: "client.conns", Default: "5", Kind: scenario.Int, Min: 1, Max: 100, Help: "connections left in TIME_WAIT"},
	},
	Obs:    scenario.ObsOf[OptReuseAddrObs](),
	Server: restartListener,
	Client: func(e *scenario.Env) error {
		n := e.Knobs.Int("client.conns")
		for range n {
			c, err := dialBounded(e)
			if err != nil {
				return err
			}
			if _, err := c.Write([]byte{1}); err != nil {
				c.Close()
				return err
			}
			_, err = c.Read(make([]byte, 1)) // the server closes first
			c.Close()
			if err != io.EOF {
				return err
			}
		}
		var tw int
		for deadline := time.Now().Add(3 * time.Second); tw < n && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			st, err := e.Stats()
			if err != nil {
				return err
			}
			tw = st.States["TIME_WAIT"]
		}
		if err := e.Signal("restart"); err != nil {
			return err
		}
		var r restartReport
		if err := e.GetWait("restart", &r, 10*time.Second); err != nil {
			return err
		}
		after, err := e.Stats()
		if err != nil {
			return err
		}
		c, dialErr := net.DialTimeout("tcp", e.Addr(), 5*time.Second)
		if c != nil {
			c.Close()
		}
		somaxconn, _ := strconv.Atoi(after.Sysctls["net.core.somaxconn"])
		listening := r.ListenError == "" && after.Listening
		return e.Record(&OptReuseAddrObs{TimeWaitBeforeRestart: tw, TimeWaitAfterRestart: after.States["TIME_WAIT"],
			ListenError: r.ListenError, Listening: listening, ListenWithoutReuseAddr: r.NoReuseError, ListenerReuseAddr: r.ReuseAddr,
			ListenerBacklog: after.Backlog, Somaxconn: somaxconn, DialAfterRestart: scenario.Classify(dialErr)})
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *OptReuseAddrObs, v *scenario.Verdict) {
		n, want := k.Int("client.conns"), k.Int("server.somaxconn")
		// The server closed each of the n connections first: each leaves
		// one socket in TIME_WAIT (60 s) on its port, and nothing else
		// closes there.
		v.Expect("the server's port holds exactly one TIME_WAIT socket per connection it closed, before and after the restart",
			o.TimeWaitBeforeRestart == n && o.TimeWaitAfterRestart == n, "%d before, %d after the restart, want %d", o.TimeWaitBeforeRestart, o.TimeWaitAfterRestart, n)
		v.Expect("Go's Listen on the port succeeds", o.ListenError == "" && o.Listening, "Listen: %q, listening %v", o.ListenError, o.Listening)
		v.Expect("Go's listener has SO_REUSEADDR set", o.ListenerReuseAddr == 1, "SO_REUSEADDR=%d", o.ListenerReuseAddr)
		v.Expect("the same Listen without SO_REUSEADDR fails with EADDRINUSE", strings.Contains(o.ListenWithoutReuseAddr, "address already in use"),
			"Listen: %q", o.ListenWithoutReuseAddr)
		v.Expect("the container's somaxconn is the knob's", o.Somaxconn == want, "somaxconn %d, knob %d", o.Somaxconn, want)
		v.Expect("the listener's backlog is the container's somaxconn (Go's listen backlog)", o.ListenerBacklog == int64(o.Somaxconn),
			"backlog %d, somaxconn %d", o.ListenerBacklog, o.Somaxconn)
		v.Expect("the restarted listener accepts", o.DialAfterRestart.Kind == "none", "dial: %+v", o.DialAfterRestart)
		v.Headline("%d TIME_WAIT sockets: Listen succeeds (SO_REUSEADDR=%d), without it %q; backlog %d = somaxconn %d",
			o.TimeWaitBeforeRestart, o.ListenerReuseAddr, o.ListenWithoutReuseAddr, o.ListenerBacklog, o.Somaxconn)
	}),
	Article: "SO_REUSEADDR by default (same); the backlog was the host's (macOS 128, Linux 512), here the pinned somaxconn",
}

type restartReport struct {
	ListenError       string `json:"listen_error"`
	NoReuseError      string `json:"no_reuse_error"`
	NoReuseEADDRINUSE bool   `json:"no_reuse_eaddrinuse"`
	ReuseAddr         int    `json:"reuseaddr"`
}

// restartListener closes each connection first (TIME_WAIT on this side),
// then on "restart" closes its listener, tries a listen with SO_REUSEADDR
// cleared, listens again the Go way and publishes what happened.
func restartListener(s *scenario.ServerEnv) error {
	ln, err := s.Listen()
	if err != nil {
		return err
	}
	serve := func(ln net.Listener) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
					logErr("reuseaddr deadline", err)
					return
				}
				_, err := c.Read(make([]byte, 1)) // until the client closes
				if err != io.EOF {
					logErr("reuseaddr read", err)
				}
			}()
		}
	}
	go serve(ln)
	if err := s.Await("restart"); err != nil {
		ln.Close()
		return nil
	}
	ln.Close()
	var r restartReport
	noReuse := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		return setSockInt(rc, soReuseAddr, 0)
	}}
	if l, err := noReuse.Listen(s.Ctx, "tcp", ":"+strconv.Itoa(scenario.Port)); err != nil {
		r.NoReuseError, r.NoReuseEADDRINUSE = err.Error(), errors.Is(err, syscall.EADDRINUSE)
	} else {
		l.Close()
	}
	ln2, err := s.Listen()
	if err != nil {
		r.ListenError = err.Error()
		s.Publish("restart", r)
		return err
	}
	defer ln2.Close()
	if tl, ok := ln2.(*net.TCPListener); ok {
		r.ReuseAddr, _ = sockInt(tl, soReuseAddr)
	}
	s.Publish("restart", r)
	go serve(ln2)
	<-s.Ctx.Done()
	return nil
}

// OptReuseAddrObs is what opt-reuseaddr observed.
type OptReuseAddrObs struct {
	TimeWaitBeforeRestart int    `json:"time_wait_before_restart" tcplab:"headline,exact"` // on the server's port
	TimeWaitAfterRestart  int    `json:"time_wait_after_restart" tcplab:"exact"`
	ListenError           string `json:"listen_error"` // Go's Listen on the port, "" when it succeeded
	Listening             bool   `json:"listening"`    // the server's port has a listener after the restart
	// ListenWithoutReuseAddr is the error of a Listen with SO_REUSEADDR
	// cleared, "" when it succeeded.
	ListenWithoutReuseAddr string           `json:"listen_without_reuseaddr"`
	ListenerReuseAddr      int              `json:"listener_reuseaddr" tcplab:"exact"` // SO_REUSEADDR on Go's listener
	ListenerBacklog        int64            `json:"listener_backlog" tcplab:"exact"`
	Somaxconn              int              `json:"somaxconn" tcplab:"exact"`
	DialAfterRestart       scenario.ErrInfo `json:"dial_after_restart"`
}
