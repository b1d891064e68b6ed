package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
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
	// start is what serve applies before it says it is ready: the
	// impairment of a compose sidecar service, given as flags, or
	// lab/netimpair's whole spec as -spec (nil: none until "set").
	start *impair.Spec
}

// parseSidecar parses "serve [-socket P] [-table T] [-rtt D] [-jitter D]
// [-loss P] [-loss-out P] [-rate R] [-ports P,…] [-mechanism M]", "serve [-socket P]
// [-table T] -spec JSON" and "call [-socket P] [-timeout D] OP [JSON]".
func parseSidecar(args []string) (*sidecarArgs, error) {
	if len(args) == 0 || (args[0] != "serve" && args[0] != "call") {
		return nil, errors.New("want serve or call")
	}
	fs := newFlags("sidecar")
	a := &sidecarArgs{serve: args[0] == "serve"}
	fs.StringVar(&a.socket, "socket", "/tcplab-sidecar.sock", "the control socket")
	fs.StringVar(&a.table, "table", "netimpair", "the nf_tables table it owns (and <table>_delay)")
	fs.DurationVar(&a.timeout, "timeout", 20*time.Second, "call: how long to wait for the reply")
	rtt := fs.Duration("rtt", 0, "serve: added round-trip time, from the start")
	jitter := fs.Duration("jitter", 0, "serve: ± this, uniformly")
	loss := fs.String("loss", "", "serve: fraction of packets into the container dropped: 1% or 0.01")
	lossOut := fs.String("loss-out", "", "serve: fraction of TCP packets out of the container dropped (through NFQUEUE): 1% or 0.01")
	rate := fs.String("rate", "", "serve: rate limit of what the container sends: 1mbit, 500kbit")
	ports := fs.String("ports", "", "serve: only TCP to or from these ports (default: all TCP)")
	mech := fs.String("mechanism", impair.Auto, "serve: auto, netem or delayline")
	peers := fs.String("peers", "", "serve: only packets from these IPv4 addresses (default: every peer)")
	spec := fs.String("spec", "", "serve: the whole impairment as JSON (lab/netimpair's), instead of the flags above")
	if err := fs.Parse(args[1:]); err != nil {
		return nil, err
	}
	rest := fs.Args()
	if a.serve {
		if err := noArgs(rest); err != nil {
			return nil, err
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		flags := set["rtt"] || set["jitter"] || set["loss"] || set["loss-out"] || set["rate"] || set["ports"] || set["mechanism"] || set["peers"]
		if set["spec"] {
			if flags {
				return nil, errors.New("-spec is the whole impairment: give it alone")
			}
			a.start = &impair.Spec{}
			if err := json.Unmarshal([]byte(*spec), a.start); err != nil {
				return nil, fmt.Errorf("-spec: %v", err)
			}
			return a, nil
		}
		if flags {
			var err error
			if a.start, err = startSpec(*rtt, *jitter, *loss, *lossOut, *rate, *ports, *mech); err != nil {
				return nil, err
			}
			if a.start.Peers, err = parsePeers(*peers, a.start); err != nil {
				return nil, err
			}
		}
		return a, nil
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

// startSpec is the serve flags as the agent takes them, checked as
// lab/netimpair checks its options.
func startSpec(rtt, jitter time.Duration, loss, lossOut, rate, ports, mech string) (*impair.Spec, error) {
	s := &impair.Spec{AllTCP: ports == "", Delay: rtt, Jitter: jitter, Mechanism: mech}
	switch {
	case rtt < 0 || rtt > time.Minute:
		return nil, fmt.Errorf("-rtt %v: want 0 to 1m", rtt)
	case jitter < 0 || jitter > rtt:
		return nil, fmt.Errorf("-jitter %v: want 0 to the RTT (%v)", jitter, rtt)
	case mech != impair.Auto && mech != impair.Netem && mech != impair.DelayLine:
		return nil, fmt.Errorf("-mechanism %q: want auto, netem or delayline", mech)
	case mech == impair.Netem && ports != "":
		return nil, fmt.Errorf("-ports %s: netem delays all of eth0 and cannot select ports", ports)
	}
	if loss != "" {
		f, err := parseFraction(loss)
		if err != nil {
			return nil, fmt.Errorf("-loss %q: %v", loss, err)
		}
		s.Loss = f
	}
	if lossOut != "" {
		f, err := parseFraction(lossOut)
		if err != nil {
			return nil, fmt.Errorf("-loss-out %q: %v", lossOut, err)
		}
		s.LossOut = f
	}
	if rate != "" {
		r, err := parseRate(rate)
		if err != nil {
			return nil, fmt.Errorf("-rate %q: %v", rate, err)
		}
		s.RateKbit = int(r / 1000)
	}
	ps, err := parseList("-ports", ports, port)
	if err != nil {
		return nil, err
	}
	if len(ps) > 0 {
		s.Port, s.AlsoPorts = ps[0], ps[1:]
	}
	return s, nil
}

// parsePeers reads -peers as IPv4 addresses; netem and a rate cannot
// select them.
func parsePeers(list string, s *impair.Spec) ([]netip.Addr, error) {
	if list == "" {
		return nil, nil
	}
	peers, err := parseList("-peers", list, ipv4)
	if err != nil {
		return nil, err
	}
	switch {
	case s.Mechanism == impair.Netem:
		return nil, fmt.Errorf("-peers %s: netem delays all of eth0 and cannot select peers", list)
	case s.RateKbit > 0:
		return nil, fmt.Errorf("-peers %s: -rate limits all the container sends and cannot select peers", list)
	}
	return peers, nil
}

// errNoNetem refuses netem, asked by name, where the kernel lacks it.
var errNoNetem = errors.New("the Docker host's kernel has no sch_netem: use the delay line or auto")

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
	ready := sidecarReady
	if a.start != nil {
		// Loss through the delay line needs the mechanism named: Auto
		// would leave it to nf_tables' random drops, which Update refuses.
		s := *a.start
		switch {
		case s.Mechanism == impair.Auto || s.Mechanism == "":
			s.Mechanism = impair.DelayLine
			if s.AllTCP && len(s.Peers) == 0 && impair.NetemAvailable() {
				s.Mechanism = impair.Netem
			}
		case s.Mechanism == impair.Netem && !impair.NetemAvailable():
			return errNoNetem
		}
		applied, err := ag.Update(s)
		if err != nil {
			return fmt.Errorf("applying %+v: %w", s, err)
		}
		fmt.Fprintf(os.Stderr, "tcplab sidecar: applied RTT +%v ± %v, loss %g, loss out %g, rate %d kbit/s (%v)\n", s.Delay, s.Jitter, s.Loss, s.LossOut, s.RateKbit, applied.Mechanisms)
		ready += " (" + s.Mechanism + ")" // what lab/netimpair's handle reports
	}
	_ = os.Remove(a.socket)
	ln, err := net.Listen("unix", a.socket)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, ready)
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
