package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/tcplab/tcplab/lab/pcap"
	"net"
	"os"
	"os/signal"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/tcplab/tcplab/lab/control"
	"github.com/tcplab/tcplab/lab/egress"
	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/kernel"
)

// checkRecorded: a driver that ran records exactly its declared type.
func checkRecorded(sc *Scenario, got reflect.Type) error {
	switch {
	case sc.Obs == nil:
		return fmt.Errorf("scenario %s declares no observation type", sc.ID)
	case got == nil:
		return fmt.Errorf("driver recorded no observations")
	case got != reflect.TypeOf(sc.Obs()):
		return fmt.Errorf("driver recorded %v, scenario declares %T", got, sc.Obs())
	}
	return nil
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// ReadyLine is printed once a server or agent serves; the harness waits on
// it (compose needs nothing: the client waits on the control port).
const ReadyLine = "tcplab: ready"

func announceReady() { fmt.Fprintln(os.Stderr, ReadyLine) }

// RunServer runs sc's server behaviour and the control channel until the
// client says quit or lifetime passes (so a server never outlives its run).
// The control port opens only once the behaviour listens: a client that
// reaches the control channel finds the server ready, with no healthcheck.
func RunServer(sc *Scenario, k Knobs, lifetime time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), lifetime)
	defer cancel()
	s := NewServerEnv(ctx, k)
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
		if _, err := kernel.Listener(Port); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// RunAgent serves the impairment side channel until quit, SIGTERM or
// lifetime; it removes its rules on the way out. It owns its network
// namespace: before anything else it cuts every route out of it, so what
// runs there reaches only the lab's subnet. With pcapPath set it also
// captures the port under test's packets to that file from before it says
// ready until it ends.
func RunAgent(lifetime time.Duration, pcapPath string) error {
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
		go func() { captured <- pcap.Capture(capCtx, "eth0", Port, pcapPath, ready) }()
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
	return control.Serve(ctx, ln, func(ctx context.Context, op string, args json.RawMessage) (any, error) {
		switch op {
		case "apply":
			var s impair.Spec
			if err := json.Unmarshal(args, &s); err != nil {
				return nil, err
			}
			return a.Apply(s)
		case "clear":
			// A scenario's drops go; the run's impair.* network stays.
			return nil, a.ClearDrops()
		case "counters":
			return a.Counters()
		case "info":
			return map[string]bool{impair.Netem: impair.NetemAvailable()}, nil
		case "rss":
			return rssOp()
		case "route_out":
			return egress.Probe(), nil
		case "crash":
			// impair.crash: "kill" dies like a killed agent, leaving rules
			// and held packets to the kernel (the queue's bypass flag);
			// "term" sends itself SIGTERM, the clean stop.
			var c struct {
				Mode  string
				After time.Duration
			}
			if err := json.Unmarshal(args, &c); err != nil {
				return nil, err
			}
			go func() {
				time.Sleep(c.After)
				fmt.Fprintf(os.Stderr, "tcplab agent: %s on request (impair.crash)\n", c.Mode)
				if c.Mode == "term" {
					if self, err := os.FindProcess(os.Getpid()); err == nil && self.Signal(syscall.SIGTERM) == nil {
						return
					}
				}
				os.Exit(3)
			}()
			return nil, nil
		case "quit":
			return nil, control.ErrQuit
		}
		return nil, fmt.Errorf("unknown op %q", op)
	})
}

// RunClient runs sc's client driver against host and returns its result.
// It always returns a Result; a driver that could not run says so in Error.
func RunClient(sc *Scenario, k Knobs, host string) *Result {
	res := &Result{Schema: Schema, Scenario: sc.ID, Knobs: k, Kernel: kernel.Release(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH, Started: time.Now().UTC(),
		Observations: json.RawMessage("{}")} // until the driver records
	ctx, cancel := context.WithTimeout(context.Background(), sc.Timeout+k.Impairment().Budget())
	defer cancel()
	e := &Env{Ctx: ctx, Knobs: k, Host: host, res: res, mech: map[string]bool{}}
	start := time.Now()
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("driver panicked: %v\n%s", r, debug.Stack())
			}
		}()
		setup, cancelSetup := context.WithTimeout(ctx, 15*time.Second)
		defer cancelSetup()
		// The agent owning this namespace listens once it has cut the
		// routes out; only then is the lookup below worth anything.
		if e.clientAgent, err = control.Dial(setup, net.JoinHostPort("127.0.0.1", strconv.Itoa(control.AgentPort))); err != nil {
			return fmt.Errorf("this namespace's agent: %w", err)
		}
		if e.ctrl, err = control.Dial(setup, net.JoinHostPort(host, strconv.Itoa(control.ServerPort))); err != nil {
			return err
		}
		// Resolve once: a name in every Dial would put a DNS round trip
		// (Docker's embedded resolver) inside each measured dial.
		addrs, err := net.DefaultResolver.LookupHost(setup, host)
		if err != nil {
			return fmt.Errorf("resolving the server %q: %w", host, err)
		}
		e.ip = addrs[0]
		if e.agent, err = control.Dial(setup, net.JoinHostPort(host, strconv.Itoa(control.AgentPort))); err != nil {
			return err
		}
		if res.RouteOut, err = routeOut(setup, e.agent); err != nil {
			return err
		}
		if im := k.Impairment(); im.Active() {
			res.Network, err = e.applyNetwork(im)
			if err != nil {
				return err
			}
		}
		if err := sc.Client(e); err != nil {
			return err
		}
		if res.Network != nil {
			return e.finishNetwork(res.Network)
		}
		return nil
	}()
	res.DurationMS = Ms(time.Since(start))
	res.Mechanism = e.mechanisms()
	if err != nil {
		res.Error = err.Error()
		if ctx.Err() != nil {
			res.Error = fmt.Sprintf("scenario did not finish within its %v budget: %v", sc.Timeout, err)
		}
	}
	// Tell the server and the agents to go (they also end on their own
	// lifetime); the agents last, as they own the namespaces.
	bye, cancelBye := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancelBye()
	res.PeakRSSKiB = map[string]int64{}
	for role, c := range map[string]*control.Client{"server-agent": e.agent, "server": e.ctrl, "client-agent": e.clientAgent} {
		var kib int64
		if c != nil && c.Call(bye, "rss", nil, &kib) == nil {
			res.PeakRSSKiB[role] = kib
		}
	}
	if kib, err := PeakRSSKiB(); err == nil {
		res.PeakRSSKiB["client"] = kib
	}
	// The client's agent last: its container owns this namespace, and once
	// it exits Docker may take eth0 away.
	for _, c := range []*control.Client{e.ctrl, e.agent, e.clientAgent} {
		if c != nil {
			_ = c.Call(bye, "quit", nil, nil)
			c.Close()
		}
	}
	res.OK = res.Error == "" && len(res.Checks) > 0
	for _, c := range res.Checks {
		res.OK = res.OK && c.OK
	}
	if res.Error == "" && len(res.Checks) == 0 {
		res.Error = "driver checked nothing"
	}
	if res.Error == "" {
		if err := checkRecorded(sc, e.recorded); err != nil {
			res.Error = err.Error()
		}
	}
	res.OK = res.OK && res.Error == ""
	return res
}

// routeOut proves from inside that neither namespace has a way out: this
// one's route lookup and the server's, asked of its agent. Anything but
// "none" is an error: a lab that could reach the world reports nothing.
func routeOut(ctx context.Context, serverAgent *control.Client) (string, error) {
	var server string
	if err := serverAgent.Call(ctx, "route_out", nil, &server); err != nil {
		return "", fmt.Errorf("asking the server's agent for its routes: %w", err)
	}
	client := egress.Probe()
	if client == egress.None && server == egress.None {
		return egress.None, nil
	}
	out := fmt.Sprintf("client: %s; server: %s", client, server)
	return out, fmt.Errorf("the lab has a way out (%s)", out)
}
