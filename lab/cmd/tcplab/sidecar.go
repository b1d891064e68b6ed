package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tcplab/tcplab/lab/control"
	"github.com/tcplab/tcplab/lab/impair"
)

// The sidecar role: the impairment agent for a container that is not the
// lab's (lab/netimpair). Unlike the lab's agent it cuts no route and binds
// no port in the namespace it shares: its control channel is a unix socket
// in its own filesystem, reached with "docker exec … sidecar call", and it
// owns only its own nf_tables tables and root qdisc.

// sidecarReady is the line the sidecar prints once it serves.
const sidecarReady = "tcplab sidecar: ready"

type sidecarArgs struct {
	serve    bool
	socket   string
	table    string
	op, data string
	timeout  time.Duration
}

// parseSidecar parses "serve [-socket P] [-table T]" and
// "call [-socket P] [-timeout D] OP [JSON]".
func parseSidecar(args []string) (*sidecarArgs, error) {
	if len(args) == 0 || (args[0] != "serve" && args[0] != "call") {
		return nil, errors.New("want serve or call")
	}
	fs := newFlags("sidecar")
	a := &sidecarArgs{serve: args[0] == "serve"}
	fs.StringVar(&a.socket, "socket", "/tcplab-sidecar.sock", "the control socket")
	fs.StringVar(&a.table, "table", "netimpair", "the nf_tables table it owns (and <table>_delay)")
	fs.DurationVar(&a.timeout, "timeout", 20*time.Second, "call: how long to wait for the reply")
	if err := fs.Parse(args[1:]); err != nil {
		return nil, err
	}
	rest := fs.Args()
	if a.serve {
		return a, noArgs(rest)
	}
	if len(rest) < 1 || len(rest) > 2 {
		return nil, errors.New("call: want OP [JSON]")
	}
	a.op = rest[0]
	if len(rest) == 2 {
		a.data = rest[1]
	}
	return a, nil
}

func sidecarCmd(args []string) {
	a, err := parseSidecar(args)
	if err != nil {
		fail(2, "tcplab sidecar: "+err.Error())
	}
	if a.serve {
		if err := sidecarServe(a); err != nil {
			fail(1, "tcplab sidecar: "+err.Error())
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	c, err := control.DialNet(ctx, "unix", a.socket)
	if err != nil {
		fail(1, "tcplab sidecar call: "+err.Error())
	}
	defer c.Close()
	var args2 any
	if a.data != "" {
		args2 = json.RawMessage(a.data)
	}
	var out json.RawMessage
	if err := c.Call(ctx, a.op, args2, &out); err != nil {
		fail(1, "tcplab sidecar call: "+err.Error())
	}
	if len(out) == 0 {
		out = json.RawMessage("null")
	}
	fmt.Println(string(out))
}

// sidecarServe applies what it is told until SIGTERM or "quit", then
// restores the namespace: its rules, every held packet released, its
// table and qdisc removed. It exits non-zero when restoring failed
// (netimpair's orphan removal reads the exit code).
func sidecarServe(a *sidecarArgs) (err error) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ag := impair.Agent{Table: a.table}
	if err := ag.Init(); err != nil {
		return err
	}
	defer func() {
		if cerr := ag.Clear(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("restoring: %w", cerr))
		}
	}()
	_ = os.Remove(a.socket)
	ln, err := net.Listen("unix", a.socket)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, sidecarReady)
	return control.Serve(ctx, ln, ag.Handler(map[string]impair.Op{
		"set":   impair.WithSpec(ag.Update),
		"clear": func(json.RawMessage) (any, error) { return nil, ag.Clear() },
		"rtt": func(args json.RawMessage) (any, error) {
			var q impair.RTTQuery
			if len(args) > 0 {
				if err := json.Unmarshal(args, &q); err != nil {
					return nil, err
				}
			}
			return impair.ConnRTTs(q)
		},
	}))
}
