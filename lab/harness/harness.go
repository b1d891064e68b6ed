// Package harness runs tcplab scenarios between real containers with
// testcontainers-go: a fresh private network and a fresh server per run, an
// impairment sidecar in the server's network namespace when the scenario
// asks for one, and the client driver in its own container on the lab
// network (never on the host: Docker's published-port proxy would accept
// every dial itself, and a macOS host would measure macOS).
package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/planner"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
	"github.com/tcplab/tcplab/lab/topology"
)

// ErrNoDocker means the Docker daemon could not be reached.
var ErrNoDocker = errors.New("docker is not reachable")

// ImageRepo is the repository of lab images built from a host-compiled
// binary; the tag is the binary's hash, so concurrent test processes built
// from different trees never run each other's binary.
const ImageRepo = "tcplab"

// Labels put on everything the harness creates, so it can all be found and
// removed: per process (session) and per host process id.
const (
	LabelLab     = "tcplab"
	LabelSession = "tcplab.session"
	LabelPID     = "tcplab.pid"
	LabelHost    = "tcplab.host"
	// LabelImage marks the images the harness builds (cached by hash).
	LabelImage = "tcplab.image"
)

// Lab is a connection to Docker with the lab image built.
type Lab struct {
	docker *client.Client
	Image  string // the lab image, tcplab:dev-<hash>
	Kernel string // the Docker host's kernel, as containers see it
	Linear bool   // the kernel has net.ipv4.tcp_syn_linear_timeouts
	// Mechanisms are the impairment mechanisms the kernel offers (the
	// preflight's): a row needing one it lacks is not run (CannotRun).
	Mechanisms Mechanisms
	// Platform the lab binary in Image is built for: the daemon's, or
	// $TCPLAB_PLATFORM.
	Platform Platform
	// AgentImage runs the impairment and capture sidecar: Image, or, when
	// Platform is emulated, an image for the daemon's own platform, since
	// qemu-user refuses the netlink sockets (nf_tables, sock_diag) the
	// agent needs and the sidecar is the network, not the subject.
	AgentImage string
	session    string
	sess       *session
	// pace overlaps runs as far as their scenarios' Load allows, so
	// parallel tests cannot skew each other's timers.
	pace *pacer
	// setup is a run's time for its own Docker work beside its client's
	// bound: the run's budget is the two together (see budget).
	setup time.Duration
	// runs and remeasured count this process's runs and those measured
	// again because their delay line ran late (Remeasured).
	runs, remeasured atomic.Int64
	// lateP99, lateMax: the worst delay-line release lateness (µs) any
	// final result of this process reported, p99 and max (Lateness).
	lateP99, lateMax atomic.Int64
	whyMu            sync.Mutex
	why              []string // each re-measurement: the run and its lateness
	// For BenchmarkStartup: started is told how long each node took from
	// the start request to ready; poll waits the way testcontainers does.
	started func(topology.Node, time.Duration)
	poll    bool
}

var (
	once    sync.Once
	shared  *Lab
	initErr error
)

// New returns the process-wide Lab: it checks Docker, builds the image once
// and installs the Ctrl-C clean-up. Every call after the first is free.
func New(ctx context.Context) (*Lab, error) {
	once.Do(func() { shared, initErr = setup(ctx) })
	return shared, initErr
}

func setup(ctx context.Context) (*Lab, error) {
	// This machine's quirks, in code rather than in a person's shell: the
	// reaper image cannot be pulled, and testcontainers must not dial the
	// default gateway when it believes it runs inside a container.
	setDefaultEnv("TESTCONTAINERS_RYUK_DISABLED", "true")
	setDefaultEnv("TESTCONTAINERS_HOST_OVERRIDE", "localhost")
	tclog.SetDefault(tclog.NewNoopLogger())

	cli, info, err := daemon(ctx)
	if err != nil {
		return nil, err
	}
	sess, err := newSession()
	if err != nil {
		return nil, err
	}
	pace := newPacer(maxOpsFor(info.Info.NCPU), maxRuns)
	pace.gate = newMachineGate(SessionDir())
	l := &Lab{docker: cli, Kernel: info.Info.KernelVersion, session: sess.id, sess: sess, pace: pace, setup: setupBudget}
	l.sweepDead(ctx)
	if l.Platform, err = choosePlatform(info.Info.OSType, info.Info.Architecture); err != nil {
		return nil, err
	}
	if l.Image, err = buildImage(ctx, l.Platform.Arch); err != nil {
		return nil, err
	}
	l.AgentImage = l.Image
	if native, err := DaemonPlatform(info.Info.OSType, info.Info.Architecture); err == nil && native != l.Platform {
		if l.AgentImage, err = buildImage(ctx, native.Arch); err != nil {
			return nil, err
		}
	}
	facts, err := l.preflight(ctx)
	if err != nil {
		return nil, err
	}
	l.Linear = facts.Linear
	installInterruptCleanup(l)
	return l, nil
}

func setDefaultEnv(k, v string) {
	if os.Getenv(k) == "" {
		os.Setenv(k, v)
	}
}

func (l *Lab) labels() map[string]string {
	host, _ := os.Hostname()
	return map[string]string{LabelLab: "1", LabelSession: l.session, LabelPID: strconv.Itoa(os.Getpid()), LabelHost: host,
		LabelLock: l.sess.lock.Path()}
}

// Option changes one run.
type Option func(*options)

type options struct {
	pcap string
}

// Capture saves the run's packets on the port under test, as the server's
// network namespace sees them, to path (a .pcap file). The server's agent
// then also gets CAP_NET_RAW, which an AF_PACKET socket needs.
func Capture(path string) Option { return func(o *options) { o.pcap = path } }

// Run runs scenario id with the given knob overrides and returns the
// client's result. Every container and the network are removed before it
// returns, whatever happened.
func (l *Lab) Run(ctx context.Context, id string, overrides scenario.Knobs, opts ...Option) (*scenario.Result, error) {
	r, err := Row(id, overrides)
	if err != nil {
		return nil, err
	}
	return l.RunRow(ctx, r, opts...)
}

// Row plans a run of scenario id with the overrides, as Run does: the
// knobs resolved once (planner.Resolve), and the Load and Weight the pacer
// admits the run by.
func Row(id string, overrides scenario.Knobs) (planner.Row, error) {
	sc, err := scenarios.Lookup(id)
	if err != nil {
		return planner.Row{}, err
	}
	return planner.Resolve(sc, overrides)
}

// RunRow runs a planned row (planner.Rows, Row) and returns the client's
// result, as Run does: its knobs are not resolved again here.
func (l *Lab) RunRow(ctx context.Context, r planner.Row, opts ...Option) (*scenario.Result, error) {
	if why := l.CannotRun(r); why != "" {
		return nil, fmt.Errorf("%s: %w: %s", r.Scenario.ID, ErrHostCannot, why)
	}
	t, err := l.planRow(r, opts...)
	if err != nil {
		return nil, err
	}
	rt := l.runtime(r)
	l.runs.Add(1)
	res, err := Measure(r, func() (*scenario.Result, error) { return rt.Run(ctx, t) }, func(late string) {
		// The delay line or the roles themselves, not TCP, were late:
		// their own measures say so. The run is measured once more,
		// counted, and says it in Attempts.
		l.remeasured.Add(1)
		why := fmt.Sprintf("%s %v: %s", r.Scenario.ID, r.Set, late)
		l.whyMu.Lock()
		l.why = append(l.why, why)
		l.whyMu.Unlock()
		fmt.Fprintf(os.Stderr, "tcplab: %s; measuring again\n", why)
	})
	l.noteLateness(res) // the final result's: what the run was judged on
	if errors.Is(err, ErrCouldNotRun) {
		err = l.daemonGone(err)
	}
	return res, err
}

// daemonGone names the daemon when a run could not finish because the
// daemon itself stopped answering (killed, restarting, its host gone):
// the run's own step failed with an EOF or a refused connection, which
// says nothing about which daemon.
func (l *Lab) daemonGone(err error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, perr := l.docker.Ping(ctx, client.PingOptions{}); perr != nil {
		return fmt.Errorf("%w: the Docker daemon at %s does not answer (%v)", err, l.docker.DaemonHost(), firstLine(perr.Error()))
	}
	return err
}

// nodeLifetime bounds a run's servers and agents, which otherwise wait for
// their client's quit. A timed run's client may wait long for its batch
// (on a busy runner more than its scenario's timeout plus a minute, the
// default, which ended a server before its client began), and the harness
// removes every container itself; this only bounds what a killed process
// leaves for `tcplab clean`.
const nodeLifetime = time.Hour

// setupBudget is a run's time for its own Docker work (network, four
// containers, removal) beside its client's bound: ample on a busy
// daemon, since waiting for the pacer does not count against it.
const setupBudget = 2 * time.Minute

// budget is the time a run of t may work, from its admission by the
// pacer: its client's own bound plus the setup budget.
func (l *Lab) budget(t *topology.Topology) time.Duration {
	return t.ByRole(topology.Client).Wait.Timeout + l.setup
}

// noteLateness keeps the worst release lateness of res's delay lines.
func (l *Lab) noteLateness(res *scenario.Result) {
	if res == nil || res.Network == nil {
		return
	}
	for _, c := range []*impair.Counters{res.Network.Server, res.Network.Client} {
		if c != nil && c.DelayLine != nil {
			raiseTo(&l.lateP99, c.DelayLine.P99LateUS)
			raiseTo(&l.lateMax, c.DelayLine.MaxLateUS)
		}
	}
}

func raiseTo(m *atomic.Int64, v int64) {
	for old := m.Load(); v > old && !m.CompareAndSwap(old, v); old = m.Load() {
	}
}

// Lateness is the worst delay-line release lateness this process's runs
// reported, as each run's p99 and max: what the delay line was held to.
func (l *Lab) Lateness() (p99, max time.Duration) {
	return time.Duration(l.lateP99.Load()) * time.Microsecond, time.Duration(l.lateMax.Load()) * time.Microsecond
}

// RemeasuredWhy lists each re-measurement: the run and how late its
// delay line was.
func (l *Lab) RemeasuredWhy() []string {
	l.whyMu.Lock()
	defer l.whyMu.Unlock()
	return slices.Clone(l.why)
}

// Remeasured says how many runs of this process were measured again
// because their delay line ran late, out of how many runs.
func (l *Lab) Remeasured() (remeasured, runs int64) { return l.remeasured.Load(), l.runs.Load() }

// Plan declares a run of sc on this lab: its image, and linear SYN
// timeouts pinned off where this daemon's kernel has them.
func (l *Lab) Plan(sc *scenario.Scenario, overrides scenario.Knobs, opts ...Option) (*topology.Topology, error) {
	r, err := planner.Resolve(sc, overrides)
	if err != nil {
		return nil, err
	}
	return l.planRow(r, opts...)
}

// planRow is Plan for a planned row, its knobs resolved once.
func (l *Lab) planRow(r planner.Row, opts ...Option) (*topology.Topology, error) {
	sc := r.Scenario
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	topts := []topology.Option{topology.WithImage(l.Image), topology.WithLinearSynTimeouts(l.Linear), topology.WithLifetime(nodeLifetime)}
	if o.pcap != "" {
		topts = append(topts, topology.WithCapture(o.pcap))
	}
	if sc.Published != nil {
		topts = append(topts, topology.WithPublished())
	}
	return topology.PlanRow(r, topts...)
}

func terminate(c testcontainers.Container) {
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = c.Terminate(ctx, testcontainers.StopTimeout(0))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// daemon opens a client to the daemon the docker CLI would use (not a
// fallback of testcontainers') and asks it for its info, within 5 s.
func daemon(ctx context.Context) (*client.Client, client.SystemInfoResult, error) {
	where, err := useEndpoint()
	if err != nil {
		return nil, client.SystemInfoResult{}, err
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, client.SystemInfoResult{}, fmt.Errorf("%w at %s: %v", ErrNoDocker, where, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := cli.Info(pctx, client.InfoOptions{})
	if err != nil {
		cli.Close()
		return nil, client.SystemInfoResult{}, fmt.Errorf("%w at %s: %v", ErrNoDocker, where, firstLine(err.Error()))
	}
	return cli, info, nil
}

// Reachable reports whether the daemon the docker CLI would use answers
// (ErrNoDocker if not), for commands that reach it through testcontainers,
// which would otherwise fall back to another socket.
func Reachable(ctx context.Context) error {
	cli, _, err := daemon(ctx)
	if err == nil {
		cli.Close()
	}
	return err
}
