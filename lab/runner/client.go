package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/control"
	"github.com/tcplab/tcplab/lab/egress"
	"github.com/tcplab/tcplab/lab/kernel"
	"github.com/tcplab/tcplab/lab/scenario"
)

// Client runs sc's client driver against host and returns its result.
// It always returns a Result; a driver that could not run says so in Error.
func Client(sc *scenario.Scenario, k scenario.Knobs, host string) *scenario.Result {
	res := &scenario.Result{Schema: scenario.Schema, Scenario: sc.ID, Knobs: k, Kernel: kernel.Release(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH, Facts: scenario.LocalFacts(), Started: time.Now().UTC(),
		Observations: json.RawMessage("{}")} // until the driver records
	ctx, cancel := context.WithTimeout(context.Background(), sc.Timeout+k.Impairment().Budget())
	defer cancel()
	var (
		w           scenario.Wiring
		clientAgent *control.Client // in this (the client's) namespace, for impair.* delay
		e           *scenario.Env
		mech        = mechs{}
	)
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
		if clientAgent, err = control.Dial(setup, net.JoinHostPort("127.0.0.1", strconv.Itoa(control.AgentPort))); err != nil {
			return fmt.Errorf("this namespace's agent: %w", err)
		}
		if w.Server, err = control.Dial(setup, net.JoinHostPort(host, strconv.Itoa(control.ServerPort))); err != nil {
			return err
		}
		// Resolve once: a name in every Dial would put a DNS round trip
		// (Docker's embedded resolver) inside each measured dial.
		addrs, err := net.DefaultResolver.LookupHost(setup, host)
		if err != nil {
			return fmt.Errorf("resolving the server %q: %w", host, err)
		}
		w.IP = addrs[0]
		if w.Agent, err = control.Dial(setup, net.JoinHostPort(host, strconv.Itoa(control.AgentPort))); err != nil {
			return err
		}
		if res.RouteOut, err = routeOut(setup, w.Agent); err != nil {
			return err
		}
		e = scenario.NewEnv(ctx, k, host, w, res)
		l := &link{ctx: ctx, ip: w.IP, agent: w.Agent, clientAgent: clientAgent, mech: mech}
		if im := k.Impairment(); im.Active() {
			res.Network, err = l.applyNetwork(im)
			if err != nil {
				return err
			}
		}
		watch := watchLateness()
		err = sc.Client(e)
		res.TimersLateMS = map[string]float64{"client": watch.Stop()}
		if err != nil {
			return err
		}
		var netErr error
		if res.Network != nil {
			netErr = l.finishNetwork(res.Network)
		}
		// Judged even when the network did not hold: the report shows
		// what the run saw through it.
		return errors.Join(netErr, sc.Judge(res))
	}()
	res.DurationMS = scenario.Ms(time.Since(start))
	if e != nil {
		mech.add(e.Mechanisms()...)
	}
	res.Mechanism = mech.String()
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
	for role, c := range map[string]*control.Client{"server-agent": w.Agent, "server": w.Server, "client-agent": clientAgent} {
		var kib int64
		if c != nil && c.Call(bye, "rss", nil, &kib) == nil {
			res.PeakRSSKiB[role] = kib
		}
	}
	var late float64
	if res.TimersLateMS != nil && w.Server != nil && w.Server.Call(bye, "late", nil, &late) == nil {
		res.TimersLateMS["server"] = late
	}
	if kib, err := PeakRSSKiB(); err == nil {
		res.PeakRSSKiB["client"] = kib
	}
	// The client's agent last: its container owns this namespace, and once
	// it exits Docker may take eth0 away.
	for _, c := range []*control.Client{w.Server, w.Agent, clientAgent} {
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
		if err := sc.CheckRecorded(e); err != nil {
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

// mechs is the set of impairment mechanisms a run used.
type mechs map[string]bool

func (m mechs) add(names ...string) {
	for _, n := range names {
		m[n] = true
	}
}

// String lists the mechanisms, sorted and joined by "+", or "none".
func (m mechs) String() string {
	if len(m) == 0 {
		return "none"
	}
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return strings.Join(out, "+")
}
