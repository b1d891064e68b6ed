//go:build !container

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/netimpair"
)

// tcplab impair: lab/netimpair from the command line, for containers
// started by docker run or compose.

func init() {
	hostCommands["impair"] = impairCmd
	argChecks["impair"] = func(args []string) error { _, err := parseImpair(args); return err }
	hostUsage += `
  impair CONTAINER --rtt D [--jitter D] [--loss P%] [--loss-out P%] [--rate R] [--ports P,…] [--peers IP,…] [--for D]
      [--mechanism auto|netem|delayline] [--replace]
                                    impair a running container's network until Ctrl-C or
                                    the end of --for, then restore it (lab/netimpair)`
}

type impairArgs struct {
	target string
	opts   []netimpair.Option
	dur    time.Duration
}

// parseImpair accepts the container before, between or after the flags.
func parseImpair(args []string) (*impairArgs, error) {
	fs := newFlags("impair")
	rtt := fs.Duration("rtt", 0, "added round-trip time")
	jitter := fs.Duration("jitter", 0, "± this, uniformly")
	loss := fs.String("loss", "", "fraction of packets into the container dropped: 1% or 0.01")
	lossOut := fs.String("loss-out", "", "fraction of TCP packets out of the container dropped (through NFQUEUE): 1% or 0.01")
	rate := fs.String("rate", "", "rate limit of what the container sends: 1mbit, 500kbit")
	ports := fs.String("ports", "", "only TCP to or from these ports (default: all TCP)")
	peers := fs.String("peers", "", "only packets from these IPv4 addresses (default: every peer)")
	mech := fs.String("mechanism", "auto", "auto, netem or delayline")
	replace := fs.Bool("replace", false, "replace a sidecar already attached, even a live process's (a dead one's goes anyway)")
	a := &impairArgs{}
	fs.DurationVar(&a.dur, "for", 0, "restore after this long (default: at Ctrl-C)")
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(rest) != 1 {
		return nil, fmt.Errorf("want one container (name or ID), got %d", len(rest))
	}
	a.target = rest[0]
	if a.dur < 0 {
		return nil, fmt.Errorf("--for %v: want ≥ 0", a.dur)
	}
	a.opts = append(a.opts, netimpair.RTT(*rtt), netimpair.Jitter(*jitter), netimpair.WithMechanism(netimpair.Mechanism(*mech)))
	if *loss != "" {
		p, err := parseFraction(*loss)
		if err != nil {
			return nil, fmt.Errorf("--loss %q: %v", *loss, err)
		}
		a.opts = append(a.opts, netimpair.Loss(p))
	}
	if *lossOut != "" {
		p, err := parseFraction(*lossOut)
		if err != nil {
			return nil, fmt.Errorf("--loss-out %q: %v", *lossOut, err)
		}
		a.opts = append(a.opts, netimpair.LossOut(p))
	}
	if *rate != "" {
		r, err := parseRate(*rate)
		if err != nil {
			return nil, fmt.Errorf("--rate %q: %v", *rate, err)
		}
		a.opts = append(a.opts, netimpair.Rate(r))
	}
	ps, err := parseList("--ports", *ports, port)
	if err != nil {
		return nil, err
	}
	peerAddrs, err := parseList("--peers", *peers, ipv4)
	if err != nil {
		return nil, err
	}
	a.opts = append(a.opts, netimpair.Ports(ps...), netimpair.Peers(peerAddrs...))
	if *replace {
		a.opts = append(a.opts, netimpair.ReplaceExisting())
	}
	if *rtt == 0 && *loss == "" && *lossOut == "" && *rate == "" {
		return nil, errors.New("nothing to do: give --rtt, --loss, --loss-out or --rate")
	}
	if err := netimpair.Validate(a.opts...); err != nil {
		return nil, err
	}
	return a, nil
}

func impairCmd(args []string) {
	a, err := parseImpair(args)
	if err != nil {
		fail(2, "tcplab impair: "+err.Error())
	}
	// As the harness does: no reaper (it cannot be pulled everywhere), and
	// testcontainers must not dial a gateway it guesses.
	for k, v := range map[string]string{"TESTCONTAINERS_RYUK_DISABLED": "true", "TESTCONTAINERS_HOST_OVERRIDE": "localhost"} {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	tclog.SetDefault(tclog.NewNoopLogger())
	if err := harness.Reachable(context.Background()); err != nil {
		fail(2, "tcplab impair: "+firstLineOf(err.Error()))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	actx, cancel := context.WithTimeout(ctx, 5*time.Minute) // a first build of the sidecar's image included
	h, err := netimpair.AttachID(actx, a.target, a.opts...)
	cancel()
	if err != nil {
		code := 1
		if errors.Is(err, netimpair.ErrNoDocker) || errors.Is(err, netimpair.ErrTarget) || errors.Is(err, netimpair.ErrAttached) {
			code = 2
		}
		fail(code, "tcplab impair: "+firstLineOf(err.Error()))
	}
	until := "Ctrl-C"
	if a.dur > 0 {
		until = "Ctrl-C or " + a.dur.String()
	}
	fmt.Printf("tcplab impair: %s: %s; restored at %s\n", a.target, h, until)
	if a.dur > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(a.dur):
		}
	} else {
		<-ctx.Done()
	}
	stop()
	cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
	defer ccancel()
	c, cerr := h.Counters(cctx)
	if err := h.Close(cctx); err != nil {
		fail(1, "tcplab impair: restoring "+a.target+": "+firstLineOf(err.Error()))
	}
	if cerr == nil && c.Queued > 0 {
		fmt.Printf("tcplab impair: %s restored; the delay line held %d packets, dropped %d, released late by ≤ %v (p99 %v)\n",
			a.target, c.Queued, c.Dropped, c.MaxLate, c.P99Late)
	} else {
		fmt.Printf("tcplab impair: %s restored\n", a.target)
	}
}

func firstLineOf(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
