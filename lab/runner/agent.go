package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/tcplab/tcplab/lab/control"
	"github.com/tcplab/tcplab/lab/egress"
	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/pcap"
	"github.com/tcplab/tcplab/lab/scenario"
)

// Agent serves the impairment side channel until quit, SIGTERM or
// lifetime; it removes its rules on the way out. It owns its network
// namespace: before anything else it cuts every route out of it, so what
// runs there reaches only the lab's subnet. With pcapPath set it also
// captures the port under test's packets to that file from before it says
// ready until it ends.
func Agent(lifetime time.Duration, pcapPath string) error {
	if err := egress.Cut(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), lifetime)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	var a impair.Agent
	if err := a.Init(); err != nil {
		return err
	}
	defer func() {
		if err := a.Clear(); err != nil {
			fmt.Fprintln(os.Stderr, "tcplab agent: clearing the impairment:", err)
		}
	}()
	captured := make(chan error, 1)
	if pcapPath != "" {
		capCtx, stopCapture := context.WithCancel(context.Background())
		ready := make(chan struct{})
		go func() { captured <- pcap.Capture(capCtx, "eth0", scenario.Port, pcapPath, ready) }()
		select {
		case <-ready:
		case err := <-captured:
			stopCapture()
			return err
		}
		defer func() {
			stopCapture()
			if err := <-captured; err != nil {
				fmt.Fprintln(os.Stderr, "tcplab agent: capture:", err)
			}
		}()
	}
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(control.AgentPort))
	if err != nil {
		return err
	}
	announceReady()
	return control.Serve(ctx, ln, a.Handler(map[string]impair.Op{
		"apply": impair.WithSpec(a.Apply),
		// A scenario's drops go; the run's impair.* network stays.
		"clear":     func(json.RawMessage) (any, error) { return nil, a.ClearDrops() },
		"rss":       func(json.RawMessage) (any, error) { return PeakRSSKiB() },
		"route_out": func(json.RawMessage) (any, error) { return egress.Probe(), nil },
		"crash": func(args json.RawMessage) (any, error) {
			// impair.crash: the delay line dies ("kill": abandoned, the
			// queue's bypass flag takes over) or stops ("term": the clean
			// stop); the agent itself stays, as it owns the namespace.
			var c struct {
				Mode  string
				After time.Duration
			}
			if err := json.Unmarshal(args, &c); err != nil {
				return nil, err
			}
			go func() {
				time.Sleep(c.After)
				fmt.Fprintf(os.Stderr, "tcplab agent: delay line %s on request (impair.crash)\n", c.Mode)
				if err := a.Crash(c.Mode); err != nil {
					fmt.Fprintln(os.Stderr, "tcplab agent: impair.crash:", err)
				}
			}()
			return nil, nil
		},
	}))
}
