package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/tcplab/tcplab/lab/impair"
)

// reachGreeting is what a reach listener writes to the one peer it accepts.
const reachGreeting = "tcplab reach\n"

type reachArgs struct {
	listen, dial string
	bound        time.Duration
	mechanisms   bool
}

// parseReach parses "-listen :PORT [-for D]" or "-dial HOST:PORT [-timeout D]".
func parseReach(args []string) (reachArgs, error) {
	var r reachArgs
	fs := newFlags("reach")
	fs.StringVar(&r.listen, "listen", "", "accept one connection on this address")
	fs.StringVar(&r.dial, "dial", "", "connect to this address and read its greeting")
	fs.DurationVar(&r.bound, "for", 60*time.Second, "how long to wait (-listen), or -timeout for -dial")
	fs.DurationVar(&r.bound, "timeout", 60*time.Second, "same as -for")
	fs.BoolVar(&r.mechanisms, "mechanisms", false, "-listen: first print which impairment mechanisms this kernel has (needs NET_ADMIN)")
	if err := fs.Parse(args); err != nil {
		return r, err
	}
	if (r.listen == "") == (r.dial == "") || fs.NArg() > 0 || r.bound <= 0 || (r.mechanisms && r.listen == "") {
		return r, errors.New("usage: tcplab reach -listen :PORT [-for D] [-mechanisms] | -dial HOST:PORT [-timeout D]")
	}
	return r, nil
}

// reachCmd is the preflight's reachability check (lab/harness): one
// container listens, another on the same lab network dials it by name. A
// host whose firewall drops traffic between two containers on one bridge
// fails here, in one line, rather than in every run's control channel.
// The listener, run as an agent is (the daemon's platform, NET_ADMIN),
// also says which impairment mechanisms the kernel offers.
func reachCmd(args []string) {
	r, err := parseReach(args)
	if err != nil {
		fail(2, "tcplab reach: "+err.Error())
	}
	if err := reach(r); err != nil {
		fail(1, "tcplab reach: "+err.Error())
	}
}

func reach(r reachArgs) error {
	deadline := time.Now().Add(r.bound)
	if r.dial != "" {
		c, err := net.DialTimeout("tcp", r.dial, r.bound)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(deadline)
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != reachGreeting {
			return fmt.Errorf("%s answered %q: %v", r.dial, line, err)
		}
		return nil
	}
	if r.mechanisms {
		// In the listener's own namespace, as an agent would try them.
		fmt.Printf("mechanisms netem=%t nfqueue=%t\n", impair.NetemAvailable(), impair.QueueAvailable())
	}
	ln, err := net.Listen("tcp", r.listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	_ = ln.(*net.TCPListener).SetDeadline(deadline)
	fmt.Fprintln(os.Stdout, "listening on", ln.Addr())
	c, err := ln.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(deadline)
	_, err = c.Write([]byte(reachGreeting))
	return err
}
