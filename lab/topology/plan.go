package topology

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/planner"
	"github.com/tcplab/tcplab/lab/scenario"
)

// Option changes a plan. An option that cannot apply returns an error,
// which Plan reports before anything starts.
type Option func(*config) error

type config struct {
	image     string
	prefix    string
	linear    bool
	capture   string
	lifetime  time.Duration
	results   *Mount // host directory; Target is the client's result file
	labels    map[string]string
	published bool
}

// CapturePath is where the server's agent writes a capture.
const CapturePath = "/tmp/capture.pcap"

// ResultsDir is where a client with WithResults writes its result.
const ResultsDir = "/results"

var dnsName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// WithImage sets the image every node runs (it holds every role).
func WithImage(image string) Option {
	return func(c *config) error {
		if strings.TrimSpace(image) == "" {
			return errors.New("WithImage: empty image")
		}
		c.image = image
		return nil
	}
}

// WithName prefixes every node and host name (compose puts many runs in one
// file: "backlog-full-1" gives "backlog-full-1-server", …).
func WithName(prefix string) Option {
	return func(c *config) error {
		if !dnsName.MatchString(prefix) {
			return fmt.Errorf("WithName(%q): want lower-case letters, digits and inner dashes", prefix)
		}
		c.prefix = prefix
		return nil
	}
}

// WithLinearSynTimeouts says whether the kernel has LinearSysctl. If it
// does, both hosts pin it to 0 unless a knob sets it; if not, it must not
// appear at all (Docker refuses a sysctl the kernel lacks).
func WithLinearSynTimeouts(kernelHasIt bool) Option {
	return func(c *config) error { c.linear = kernelHasIt; return nil }
}

// WithCapture has the server's agent capture the port under test to
// CapturePath, fetched to hostPath afterwards; the agent then also holds
// NET_RAW.
func WithCapture(hostPath string) Option {
	return func(c *config) error {
		if hostPath == "" {
			return errors.New("WithCapture: empty path")
		}
		c.capture = hostPath
		return nil
	}
}

// WithLifetime bounds servers and agents that never hear the client's quit
// (default: the scenario's timeout plus a minute). Compose, where the
// timer-sensitive runs' servers wait for the runs before them, sets an hour.
func WithLifetime(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("WithLifetime(%v): want a positive duration", d)
		}
		c.lifetime = d
		return nil
	}
}

// WithResults mounts hostDir at ResultsDir in the client, which writes its
// result to file there and prints one line instead of the JSON.
func WithResults(hostDir, file string) Option {
	return func(c *config) error {
		if hostDir == "" || file == "" || strings.ContainsAny(file, `/\`) {
			return fmt.Errorf("WithResults(%q, %q): want a directory and a plain file name", hostDir, file)
		}
		c.results = &Mount{Source: hostDir, Target: file}
		return nil
	}
}

// WithLabels puts labels on every network and node.
func WithLabels(labels map[string]string) Option {
	return func(c *config) error {
		for k := range labels {
			if k == "" {
				return errors.New("WithLabels: empty label name")
			}
		}
		maps.Copy(c.labels, labels)
		return nil
	}
}

// WithPublished adds a second network, not internal, that only the server
// joins, for a scenario that must show a port published to 127.0.0.1.
func WithPublished() Option {
	return func(c *config) error { c.published = true; return nil }
}

// Plan declares a run of sc with the knob overrides: the server's and the
// client's namespaces, each owned by an agent, on one internal network.
// Knobs are validated here (planner.Resolve); the roles get only the
// overrides on their command line and resolve the same defaults
// themselves.
func Plan(sc *scenario.Scenario, overrides scenario.Knobs, opts ...Option) (*Topology, error) {
	if sc == nil {
		return nil, errors.New("topology: no scenario")
	}
	r, err := planner.Resolve(sc, overrides)
	if err != nil {
		return nil, err
	}
	return PlanRow(r, opts...)
}

// PlanRow is Plan for a row already planned, its knobs resolved and
// validated once (planner.Rows, planner.Resolve): they are not resolved
// again.
func PlanRow(r planner.Row, opts ...Option) (*Topology, error) {
	sc, overrides, k := r.Scenario, r.Set, r.Knobs
	if sc == nil {
		return nil, errors.New("topology: no scenario")
	}
	c := config{labels: map[string]string{}}
	var errs []error
	for _, o := range opts {
		errs = append(errs, o(&c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("topology %s: %w", sc.ID, err)
	}
	if c.lifetime == 0 {
		c.lifetime = sc.Timeout + k.Impairment().Budget() + time.Minute
	}
	name := func(n string) string {
		if c.prefix == "" {
			return n
		}
		return c.prefix + "-" + n
	}
	life := c.lifetime.String()
	knobArgs := overrides.Args()
	ready := Wait{Kind: WaitReady, Timeout: 30 * time.Second}

	t := &Topology{Scenario: sc.ID, Image: c.image, Labels: c.labels,
		Networks: []Network{{Name: "lab", Internal: true, Labels: c.labels}}}
	serverNets := []string{"lab"}
	if c.published {
		pl := maps.Clone(c.labels)
		pl[LabelPublished] = "true"
		t.Networks = append(t.Networks, Network{Name: "published", Published: true, Labels: pl})
		serverNets = append(serverNets, "published")
	}
	server, client := name("server"), name("client")
	for _, h := range []struct {
		name string
		role scenario.Role
		nets []string
	}{{server, scenario.Server, serverNets}, {client, scenario.Client, []string{"lab"}}} {
		s := k.SysctlsFor(h.role)
		if _, set := s[LinearSysctl]; c.linear && !set {
			s[LinearSysctl] = "0"
		}
		t.Hosts = append(t.Hosts, Host{Name: h.name, Networks: h.nets, Sysctls: s})
	}

	agent := Node{Name: name("server-agent"), Role: Agent, Host: server, Owner: true,
		Args: []string{"agent", "-lifetime", life}, Caps: []string{CapNetAdmin}, Wait: ready, Lifetime: c.lifetime}
	if c.capture != "" {
		agent.Args = append(agent.Args, "-pcap", CapturePath)
		agent.Caps = append(agent.Caps, CapNetRaw)
		agent.Fetch = &Mount{Source: CapturePath, Target: c.capture}
	}
	clientArgs := []string{"client", sc.ID, "-server", server}
	var mounts []Mount
	if c.results != nil {
		clientArgs = append(clientArgs, "-quiet", "-out", ResultsDir+"/"+c.results.Target)
		mounts = []Mount{{Source: c.results.Source, Target: ResultsDir}}
	}
	t.Nodes = []Node{
		agent,
		{Name: server, Role: Server, Host: server, Wait: ready, Lifetime: c.lifetime, Memory: k.MemoryLimit(scenario.Server),
			Args: append([]string{"serve", sc.ID, "-lifetime", life}, knobArgs...)},
		{Name: name("client-agent"), Role: Agent, Host: client, Owner: true, Caps: []string{CapNetAdmin},
			Args: []string{"agent", "-lifetime", life}, Wait: ready, Lifetime: c.lifetime},
		{Name: client, Role: Client, Host: client, Mounts: mounts, Memory: k.MemoryLimit(scenario.Client),
			Args: append(clientArgs, knobArgs...),
			Wait: Wait{Kind: WaitExit, Timeout: sc.Timeout + k.Impairment().Budget() + 30*time.Second}},
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("topology %s: %w", sc.ID, err)
	}
	return t, nil
}

// Validate checks the rules every runtime relies on, across objects: unique
// names; each host has one owner, started before its other nodes; only
// agents hold capabilities, and only NET_ADMIN and NET_RAW; networks are
// internal unless published, and a published one holds only the server;
// sysctls are per-namespace (net.*); one client.
func (t *Topology) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if t.Image == "" {
		bad("no image (WithImage)")
	}
	nets := map[string]Network{}
	for _, n := range t.Networks {
		if _, dup := nets[n.Name]; dup {
			bad("network %q declared twice", n.Name)
		}
		nets[n.Name] = n
		switch {
		case !n.Published && !n.Internal:
			bad("network %q is not internal: the lab's networks have no way out", n.Name)
		case n.Published && n.Labels[LabelPublished] != "true":
			bad("published network %q lacks the label %s=true", n.Name, LabelPublished)
		}
	}
	hosts := map[string]bool{}
	for _, h := range t.Hosts {
		if hosts[h.Name] {
			bad("host %q declared twice", h.Name)
		}
		hosts[h.Name] = true
		if len(h.Networks) == 0 {
			bad("host %q is on no network", h.Name)
		}
		for _, n := range h.Networks {
			nw, ok := nets[n]
			if !ok {
				bad("host %q joins undeclared network %q", h.Name, n)
			}
			if nw.Published && t.serverHost() != h.Name {
				bad("published network %q holds host %q: only the server may join it", n, h.Name)
			}
		}
		for s := range h.Sysctls {
			if !strings.HasPrefix(s, "net.") {
				bad("host %q: sysctl %s is not per network namespace", h.Name, s)
			}
		}
	}
	seen, owned := map[string]bool{}, map[string]bool{}
	clients := 0
	for _, n := range t.Nodes {
		if seen[n.Name] {
			bad("node %q declared twice", n.Name)
		}
		seen[n.Name] = true
		if !hosts[n.Host] {
			bad("node %q is in undeclared host %q", n.Name, n.Host)
		}
		switch {
		case n.Owner && owned[n.Host]:
			bad("host %q has a second owner %q", n.Host, n.Name)
		case !n.Owner && !owned[n.Host]:
			bad("node %q starts before the owner of host %q", n.Name, n.Host)
		}
		owned[n.Host] = owned[n.Host] || n.Owner
		if n.Owner && n.Role != Agent {
			bad("node %q owns host %q but is not an agent: the agent cuts the routes before anything runs there", n.Name, n.Host)
		}
		if n.Role != Agent && len(n.Caps) > 0 {
			bad("node %q (%s) holds capabilities %v: only agents may", n.Name, n.Role, n.Caps)
		}
		for _, c := range n.Caps {
			if c != CapNetAdmin && c != CapNetRaw {
				bad("node %q holds %s: agents get only %s and %s", n.Name, c, CapNetAdmin, CapNetRaw)
			}
		}
		if n.Role == Agent && !slices.Contains(n.Caps, CapNetAdmin) {
			bad("agent %q lacks %s: it could not cut its namespace's routes", n.Name, CapNetAdmin)
		}
		if n.Role == Client {
			clients++
		}
		if n.Wait.Kind == 0 || n.Wait.Timeout <= 0 {
			bad("node %q has no wait", n.Name)
		}
	}
	for h := range hosts {
		if !owned[h] {
			bad("host %q has no owner", h)
		}
	}
	if clients != 1 {
		bad("%d client nodes, want 1", clients)
	}
	return errors.Join(errs...)
}

func (t *Topology) serverHost() string {
	if n := t.ByRole(Server); n != nil {
		return n.Host
	}
	return ""
}
