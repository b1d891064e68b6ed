// Package control is the lab's side channel: a JSON-lines request/reply
// protocol on its own port, so a client driver can ask the server for kernel
// evidence from the server's network namespace, signal it, or ask the
// impairment agent to change the network, without touching the port under test.
package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// Ports of the side channels, inside the server's network namespace.
const (
	ServerPort = 7000
	AgentPort  = 7001
)

type request struct {
	Op   string          `json:"op"`
	Args json.RawMessage `json:"args,omitempty"`
}

type reply struct {
	Error string          `json:"error,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// Handler answers one request. Returning ErrQuit makes Serve return after replying.
type Handler func(ctx context.Context, op string, args json.RawMessage) (any, error)

// ErrQuit, returned by a Handler, ends Serve after the reply is sent.
var ErrQuit = errors.New("quit")

// Serve answers requests on ln until ctx ends or a handler returns ErrQuit.
func Serve(ctx context.Context, ln net.Listener, h Handler) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go serveConn(ctx, cancel, c, h)
	}
}

func serveConn(ctx context.Context, quit context.CancelFunc, c net.Conn, h Handler) {
	defer c.Close()
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	enc := json.NewEncoder(c)
	for sc.Scan() {
		var req request
		var rep reply
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			rep.Error = "bad request: " + err.Error()
		} else {
			data, err := h(ctx, req.Op, req.Args)
			if err != nil && !errors.Is(err, ErrQuit) {
				rep.Error = err.Error()
			}
			if data != nil {
				rep.Data, _ = json.Marshal(data)
			}
			if errors.Is(err, ErrQuit) {
				_ = enc.Encode(rep)
				quit()
				return
			}
		}
		if enc.Encode(rep) != nil {
			return
		}
	}
}

// Client talks to one side channel.
type Client struct {
	addr string
	conn net.Conn
	rd   *bufio.Scanner
}

// Dial connects to a side channel, retrying until ctx ends (the peer may
// still be starting).
func Dial(ctx context.Context, addr string) (*Client, error) { return DialNet(ctx, "tcp", addr) }

// DialNet is Dial on another network: "unix" for a socket path.
func DialNet(ctx context.Context, network, addr string) (*Client, error) {
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			sc := bufio.NewScanner(c)
			sc.Buffer(make([]byte, 64<<10), 4<<20)
			return &Client{addr: addr, conn: c, rd: sc}, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("control channel %s: %w (last error: %v)", addr, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Call sends op with args and decodes the reply's data into out (may be nil).
func (c *Client) Call(ctx context.Context, op string, args, out any) error {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(30 * time.Second)
	}
	if err := c.conn.SetDeadline(dl); err != nil {
		return err
	}
	req := request{Op: op}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return err
		}
		req.Args = b
	}
	b, _ := json.Marshal(req)
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("control %s %s: %w", c.addr, op, err)
	}
	if !c.rd.Scan() {
		err := c.rd.Err()
		if err == nil {
			err = errors.New("connection closed")
		}
		return fmt.Errorf("control %s %s: %w", c.addr, op, err)
	}
	var rep reply
	if err := json.Unmarshal(c.rd.Bytes(), &rep); err != nil {
		return fmt.Errorf("control %s %s: bad reply: %w", c.addr, op, err)
	}
	if rep.Error != "" {
		return fmt.Errorf("control %s %s: %s", c.addr, op, rep.Error)
	}
	if out != nil && len(rep.Data) > 0 {
		return json.Unmarshal(rep.Data, out)
	}
	return nil
}

func (c *Client) Close() error { return c.conn.Close() }
