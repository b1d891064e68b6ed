package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/tcplab/tcplab/lab/runner"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/topology"
)

// Runtime returns the Docker runtime of this lab: it runs a planned
// topology with testcontainers-go.
func (l *Lab) Runtime() topology.Runtime { return docker{lab: l} }

// docker runs a topology as containers: one internal network per run, each
// host's owner on it under the host's name, the other nodes in their
// owner's network namespace.
type docker struct {
	lab    *Lab
	pub    hostProbe     // the scenario's host probe, for a published network
	load   scenario.Load // how the client's measurement is paced
	weight time.Duration // the run's expected wall time: longest first
}

var _ topology.Runtime = docker{}

// Run starts the nodes in order, collects the client's result and removes
// everything, also when something fails. Its own time (budget) counts
// from the pacer's admission and stops while it waits for the pacer; a
// step Docker failed comes back as a *LabError.
func (d docker) Run(ctx context.Context, t *topology.Topology) (res *scenario.Result, err error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	labels := d.lab.labels()
	for k, v := range t.Labels {
		labels[k] = v
	}
	var pr *paced
	if err := step("waiting for a place", func() (err error) {
		pr, err = d.lab.pace.begin(ctx, d.load, d.weight)
		return err
	}); err != nil {
		return nil, fmt.Errorf("%s: %w", t.Scenario, err)
	}
	defer pr.end()
	ctx, b := newBudget(ctx, d.lab.budget(t))
	defer b.stop()
	pr.b = b
	defer func() {
		// Whatever failed once the budget ran out failed for that.
		if cause := context.Cause(ctx); err != nil && errors.Is(cause, ErrBudget) && !errors.Is(err, ErrBudget) {
			err = &LabError{Step: t.Scenario + " (every step)", Took: b.used(), Err: fmt.Errorf("%w: %v", cause, err)}
		}
	}()
	pub, err := d.publish(ctx, t, pr) // nil unless t has a published network
	if err != nil {
		return nil, err
	}
	defer pub.remove() // after the containers, which the next defer removes
	if len(t.Networks) != 1+pub.count() {
		return nil, fmt.Errorf("%s: the docker runtime runs one internal network per run (and a published one), not %d", t.Scenario, len(t.Networks))
	}
	nw, err := newNetwork(ctx, pr, "creating the lab network", tcnetwork.WithLabels(labels), tcnetwork.WithInternal())
	if err != nil {
		return nil, err
	}
	r := &run{t: t, lab: d.lab, pub: pub, timed: d.load != scenario.Neutral}
	defer func() {
		// All at once: a run is over, so no order is owed, and each
		// removal waits on the daemon (one after another was about a
		// second of every run).
		var wg sync.WaitGroup
		for _, c := range r.order {
			wg.Go(func() { pr.op(func() { terminate(c) }) })
		}
		wg.Wait()
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// The daemon may still be detaching a removed container's
		// endpoint: try again briefly rather than leave the network.
		for range 5 {
			var rerr error
			pr.op(func() { rerr = nw.Remove(rctx) })
			if rerr == nil || rctx.Err() != nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	// Before the containers go (the defer above): a run that failed
	// because the kernel OOM-killed a role says so, not what its peer
	// saw afterwards (a reset, a hung wait, "exited before it was ready").
	defer func() {
		if err == nil && (res == nil || res.OK) {
			return
		}
		if killed := r.oomKilled(); killed != "" {
			why := killed + " " + scenario.OOMKilled
			if res != nil {
				res.OK = false
				res.Error = strings.TrimSuffix(why+"; "+res.Error, "; ")
			}
			err = fmt.Errorf("%s: %s (%w)", t.Scenario, why, ErrOOMKilled)
		}
	}()
	if err := step("checking the lab network", func() error { return checkInternal(ctx, d.lab.docker, nw.ID) }); err != nil {
		return nil, err
	}
	// Each host's nodes start in order (its owner first); the hosts start
	// side by side, and the client, whose exit ends the run, after all.
	var wg sync.WaitGroup
	errs := make([]error, len(t.Hosts))
	cl := t.ByRole(topology.Client)
	for i, h := range t.Hosts {
		wg.Go(func() {
			for _, n := range t.Nodes {
				if n.Host == h.Name && n.Name != cl.Name {
					pr.op(func() {
						errs[i] = step("starting "+n.Name, func() error { return r.start(ctx, t.Image, nw, labels, n, true) })
					})
					if errs[i] != nil {
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%s: %w%s", t.Scenario, err, r.logTail(ctx))
	}
	if err := pub.run(ctx, r.container(t.Owner(t.ByRole(topology.Server).Host).Name)); err != nil {
		return nil, fmt.Errorf("%s: %w%s", t.Scenario, err, r.logTail(ctx))
	}
	// The client: a Neutral run's start is an op and its run to exit the
	// measurement. A paced run's client starts with -gate as an op of its
	// setup and waits at the gate; its measurement is the go to its exit,
	// so a batch of them begins beside no start-up at all.
	node := *cl
	var t0 time.Time
	start := func() {
		t0 = time.Now()
		err = step("starting "+node.Name, func() error { return r.start(ctx, t.Image, nw, labels, node, false) })
	}
	if d.load != scenario.Neutral {
		node.Args = withGate(node.Args)
		pr.op(func() {
			if start(); err == nil {
				err = step("starting "+node.Name+" (up to its gate)", func() error {
					return r.lab.ForLine(runner.GateLine, gateTimeout).WaitUntilReady(ctx, r.container(node.Name))
				})
			}
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w%s", t.Scenario, err, r.logTail(ctx))
		}
		start = func() {
			err = step("signalling "+node.Name, func() error { return r.lab.signal(ctx, r.container(node.Name), "USR1") })
		}
	}
	pr.measure(start, func() {
		if err == nil {
			w0 := time.Now()
			err = r.lab.waitFor(node.Wait).WaitUntilReady(ctx, r.container(node.Name))
			switch {
			case err == nil:
				if r.lab.started != nil {
					r.lab.started(node, time.Since(t0))
				}
			case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
				// The client's own bound: the scenario hung, which is
				// TCP's doing (or the driver's), not Docker's.
				err = fmt.Errorf("the client did not finish within %v: %w", node.Wait.Timeout, err)
			default:
				err = &LabError{Step: "waiting for " + node.Name + " to exit", Took: time.Since(w0), Err: err}
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w%s", t.Scenario, cl.Name, err, r.logTail(ctx))
	}
	if res, err = r.result(ctx); err == nil {
		err = pub.apply(res)
	}
	return res, err
}

// ErrOOMKilled: the kernel killed a role for its memory limit (the
// ROLE.memory_limit knobs). It is the run's failure, not Docker's.
var ErrOOMKilled = errors.New("a container went over its memory limit")

// oomKilled names the run's nodes the kernel OOM-killed, with their
// limits ("server (memory limit 16777216 B)"), or "".
func (r *run) oomKilled() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.mu.Lock()
	order, names := slices.Clone(r.order), slices.Clone(r.names)
	r.mu.Unlock()
	var out []string
	for i, c := range order {
		st, err := c.State(ctx)
		if err != nil || !st.OOMKilled {
			continue
		}
		n := r.t.Node(names[i])
		out = append(out, fmt.Sprintf("%s (memory limit %d B)", n.Role, n.Memory))
	}
	return strings.Join(out, ", ")
}

// gateTimeout bounds a gated client's start-up, up to its gate line.
const gateTimeout = time.Minute

// withGate inserts -gate after "client SCENARIO" in a client's arguments.
func withGate(args []string) []string {
	return append(append(slices.Clip(args[:2]), "-gate"), args[2:]...)
}

// signal sends sig to c's main process.
func (l *Lab) signal(ctx context.Context, c testcontainers.Container, sig string) error {
	if _, err := l.docker.ContainerKill(ctx, c.GetContainerID(), client.ContainerKillOptions{Signal: sig}); err != nil {
		return fmt.Errorf("sending %s: %w", sig, err)
	}
	return nil
}

// newNetwork creates a network as one op. While Docker's address pools
// are used up (by other sessions' runs, say), it waits for one to be
// given back rather than failing the run, until ctx ends.
func newNetwork(ctx context.Context, pr *paced, what string, opts ...tcnetwork.NetworkCustomizer) (nw *testcontainers.DockerNetwork, err error) {
	t0 := time.Now()
	for {
		pr.op(func() { nw, err = tcnetwork.New(ctx, opts...) })
		if err == nil {
			return nw, nil
		}
		if !strings.Contains(err.Error(), "could not find an available, non-overlapping IPv4 address pool") {
			return nil, &LabError{Step: what, Took: time.Since(t0), Err: err}
		}
		// Waiting for a pool is waiting, not the run's own work.
		pr.b.pause()
		select {
		case <-ctx.Done():
			pr.b.resume()
			return nil, &LabError{Step: what, Took: time.Since(t0), Err: fmt.Errorf("%w (waited for one until the run's deadline)", err)}
		case <-time.After(500 * time.Millisecond):
		}
		pr.b.resume()
	}
}

// start runs node n, and waits for it when ready says so: an owner on the
// network under its host's name with the host's sysctls, any other node
// in its owner's network namespace.
func (r *run) start(ctx context.Context, image string, nw *testcontainers.DockerNetwork, labels map[string]string, n topology.Node, ready bool) error {
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithCmd(n.Args...),
		testcontainers.WithLabels(labels),
	}
	if ready {
		opts = append(opts, testcontainers.WithWaitStrategy(r.lab.waitFor(n.Wait)))
	}
	var sysctls map[string]string
	netns := ""
	if n.Owner {
		opts = append(opts, tcnetwork.WithNetwork([]string{n.Host}, nw))
		opts = append(opts, r.pub.options(r.t.Host(n.Host))...)
		sysctls = r.t.Host(n.Host).Sysctls
	} else {
		netns = r.container(r.t.Owner(n.Host).Name).GetContainerID()
	}
	shares := int64(0) // Docker's default, 1024
	if n.Role == topology.Agent || r.timed {
		shares = timedShares
	}
	opts = append(opts, testcontainers.WithHostConfigModifier(hostConfig(sysctls, netns, shares, n.Caps...)))
	if n.Memory > 0 {
		opts = append(opts, testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.Memory, hc.MemorySwap = n.Memory, n.Memory // no swap: past the limit is the OOM killer
		}))
	}
	if n.Role == topology.Agent {
		// The network in between, not a subject: under emulation it runs
		// the daemon's own platform (qemu-user refuses its netlink sockets).
		image = r.lab.AgentImage
	}
	t0 := time.Now()
	c, err := testcontainers.Run(ctx, image, opts...)
	if r.lab.started != nil && err == nil && ready {
		r.lab.started(n, time.Since(t0))
	}
	if c != nil {
		r.mu.Lock()
		r.order = append(r.order, c)
		r.names = append(r.names, n.Name)
		r.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", n.Name, err)
	}
	return nil
}

func (r *run) container(name string) testcontainers.Container {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, n := range r.names {
		if n == name {
			return r.order[i]
		}
	}
	return nil
}

// checkInternal refuses a network Docker did not make internal.
func checkInternal(ctx context.Context, cli *client.Client, id string) error {
	n, err := cli.NetworkInspect(ctx, id, client.NetworkInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspecting the lab network: %w", err)
	}
	if !n.Network.Internal {
		return errors.New("the lab network is not internal: refusing to run with a way out")
	}
	return nil
}

// waitFor follows the node's log stream (or waits on its exit) rather than
// polling, so a node is up the moment it says so: a poll costs two API
// calls per interval and is half an interval late on average, on every
// node of every run.
func (l *Lab) waitFor(w topology.Wait) wait.Strategy {
	if l.poll { // BenchmarkStartup's comparison
		if w.Kind == topology.WaitExit {
			return wait.ForExit().WithExitTimeout(w.Timeout).WithPollInterval(100 * time.Millisecond)
		}
		return wait.ForLog(runner.ReadyLine).WithStartupTimeout(w.Timeout).WithPollInterval(50 * time.Millisecond)
	}
	if w.Kind == topology.WaitExit {
		return l.ForExit(w.Timeout)
	}
	return l.ForLine(runner.ReadyLine, w.Timeout)
}

// run is one topology's containers, by node name and in start order.
type run struct {
	t     *topology.Topology
	lab   *Lab
	pub   *published // nil unless the run has a published network
	timed bool       // a Quiet or Alone run: its nodes get timedShares
	mu    sync.Mutex
	order []testcontainers.Container // as started
	names []string                   // their nodes' names
}
