package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/tcplab/tcplab/lab/control"
	"github.com/tcplab/tcplab/lab/kernel"
	"github.com/tcplab/tcplab/lab/scenario"
)

// ReadyLine is printed once a server or agent serves; the harness waits on
// it (compose needs nothing: the client waits on the control port).
const ReadyLine = "tcplab: ready"

func announceReady() { fmt.Fprintln(os.Stderr, ReadyLine) }

// Server runs sc's server behaviour and the control channel until the
// client says quit or lifetime passes (so a server never outlives its run).
// The control port opens only once the behaviour listens: a client that
// reaches the control channel finds the server ready, with no healthcheck.
func Server(sc *scenario.Scenario, k scenario.Knobs, lifetime time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), lifetime)
	defer cancel()
	s := scenario.NewServerEnv(ctx, k)
	// Before the behaviour starts: a scenario counting its goroutines
	// (model-scale) counts this one in its baseline.
	watch := watchLateness()
	defer watch.Stop()
	if sc.Server != nil {
		go func() {
			if err := sc.Server(s); err != nil && ctx.Err() == nil {
				fmt.Fprintln(os.Stderr, "tcplab: server behaviour:", err)
			}
		}()
		waitListening(ctx, 2*time.Second)
	}
	if k.Impairment().Active() {
		for _, port := range []int{ProbePort, ProbePlainPort} {
			if err := serveProbe(ctx, port); err != nil {
				return fmt.Errorf("RTT probe port: %w", err)
			}
		}
	}
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(control.ServerPort))
	if err != nil {
		return err
	}
	announceReady()
	err = control.Serve(ctx, ln, func(ctx context.Context, op string, args json.RawMessage) (any, error) {
		switch op {
		case "rss":
			return PeakRSSKiB()
		case "late":
			return watch.Max(), nil
		}
		return s.Handle(ctx, op, args)
	})
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		fmt.Fprintln(os.Stderr, "tcplab: server lifetime ended before the client said quit")
	}
	return err
}

func waitListening(ctx context.Context, max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if _, err := kernel.Listener(scenario.Port); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
