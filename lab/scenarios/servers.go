package scenarios

import (
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// Server behaviours shared by several scenarios.

// logErr reports a server-side failure in a handler that has no caller to
// return it to: the server's log is in every failing run's error message.
func logErr(what string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "tcplab server: %s: %v\n", what, err)
	}
}

// neverAccept listens and never calls Accept: the kernel completes
// handshakes into the accept queue until it is full.
func neverAccept(s *scenario.ServerEnv) error {
	ln, err := s.Listen()
	if err != nil {
		return err
	}
	defer ln.Close()
	<-s.Ctx.Done()
	return nil
}

// sendAndHold sends msg on every connection and keeps it open until the run
// ends: the reader decides when to Read.
func sendAndHold(msg string) func(*scenario.ServerEnv) error {
	return func(s *scenario.ServerEnv) error {
		return acceptWith(s, func(c net.Conn) {
			_, err := c.Write([]byte(msg))
			logErr("sending "+msg, err)
			holdOpen(s)
		})
	}
}

// answerTwoParts reads requests of two client.part-byte Writes and answers
// each with 8 bytes: the request/response of the Nagle scenarios.
func answerTwoParts(s *scenario.ServerEnv) error {
	part := s.Knobs.Int("client.part")
	return acceptWith(s, func(c net.Conn) {
		req := make([]byte, 2*part)
		for {
			if _, err := io.ReadFull(c, req); err != nil {
				return
			}
			if _, err := c.Write(req[:8]); err != nil {
				return
			}
		}
	})
}

// acceptAll accepts every connection and holds it open until the run ends.
func acceptAll(s *scenario.ServerEnv) error {
	return acceptWith(s, func(c net.Conn) { <-s.Ctx.Done() })
}

// perConn is a Server that is only what it does with each connection: it
// accepts every connection and hands each, with the server's env, to
// handle (as acceptWith).
func perConn(handle func(s *scenario.ServerEnv, c net.Conn)) func(*scenario.ServerEnv) error {
	return func(s *scenario.ServerEnv) error {
		return acceptWith(s, func(c net.Conn) { handle(s, c) })
	}
}

// acceptWith accepts every connection and hands each to handle in its own
// goroutine; the connection is closed when handle returns.
func acceptWith(s *scenario.ServerEnv, handle func(net.Conn)) error {
	ln, err := s.Listen()
	if err != nil {
		return err
	}
	return acceptOn(s, ln, handle)
}

// acceptOn is acceptWith on a listener the caller opened.
func acceptOn(s *scenario.ServerEnv, ln net.Listener, handle func(net.Conn)) error {
	go func() { <-s.Ctx.Done(); ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.Ctx.Err() != nil {
				return nil
			}
			return err
		}
		go func() {
			defer c.Close()
			handle(c)
		}()
	}
}

// acceptEvery waits for the client's "start" signal, then accepts one
// connection every server.accept_every and publishes the accept times (ms
// since the signal) as "accepts".
func acceptEvery(s *scenario.ServerEnv) error {
	ln, err := s.Listen()
	if err != nil {
		return err
	}
	defer ln.Close()
	if err := s.Await("start"); err != nil {
		return nil
	}
	every := s.Knobs.Duration("server.accept_every")
	start := time.Now()
	var times []float64
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.Ctx.Done():
			return nil
		case <-t.C:
		}
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		held = append(held, c)
		times = append(times, scenario.Ms(time.Since(start)))
		s.Publish("accepts", times)
	}
}
