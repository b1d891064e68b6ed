package harness

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"

	"github.com/tcplab/tcplab/lab/planner"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/topology"
)

// published is the one exception to "the host never dials a lab
// container": a scenario with a HostProbe shows what Docker's own port
// publishing does. The plan gives the server's namespace an extra network,
// not internal (publishing needs a way to the host), labelled
// tcplab.published=true and holding only that namespace; the namespace's
// owner binds PublishedPort to 127.0.0.1 on a port Docker picks, and the
// probe dials it from this process, on loopback only, after the server is
// ready and before the client starts. A nil *published (every other run)
// does nothing.
type published struct {
	lab   *Lab
	name  string // the network's name in the plan
	nw    *testcontainers.DockerNetwork
	probe hostProbe
	merge scenario.Merge
}

// hostProbe is a scenario's host probe with the run's resolved knobs and
// the scenario, whose verdicts judge the result again once the probe's
// observations are in it.
type hostProbe struct {
	probe scenario.HostProbe
	knobs scenario.Knobs
	sc    *scenario.Scenario
}

var publishedPort = network.MustParsePort(strconv.Itoa(scenario.PublishedPort) + "/tcp")

// runtime is Runtime carrying r's host probe, paced by r's Load and
// Weight, for a run of r planned by Plan.
func (l *Lab) runtime(r planner.Row) docker {
	return docker{lab: l, pub: hostProbe{probe: r.Scenario.Published, knobs: r.Knobs, sc: r.Scenario}, load: r.Load, weight: r.Weight}
}

// publish creates t's published network, if it has one.
func (d docker) publish(ctx context.Context, t *topology.Topology, pr *paced) (*published, error) {
	i := slices.IndexFunc(t.Networks, func(n topology.Network) bool { return n.Published })
	if i < 0 {
		return nil, nil
	}
	if d.pub.probe == nil {
		return nil, fmt.Errorf("%s: a published network, but no host probe to dial it", t.Scenario)
	}
	labels := d.lab.labels()
	maps.Copy(labels, t.Networks[i].Labels)
	nw, err := newNetwork(ctx, pr, "creating the published-port network", tcnetwork.WithLabels(labels))
	if err != nil {
		return nil, err
	}
	return &published{lab: d.lab, name: t.Networks[i].Name, nw: nw, probe: d.pub}, nil
}

func (p *published) count() int {
	if p == nil {
		return 0
	}
	return 1
}

// options attach the owner of host h to the published network when h
// joins it, binding its PublishedPort to 127.0.0.1 only.
func (p *published) options(h *topology.Host) []testcontainers.ContainerCustomizer {
	if p == nil || !slices.Contains(h.Networks, p.name) {
		return nil
	}
	return []testcontainers.ContainerCustomizer{
		tcnetwork.WithNetwork(nil, p.nw),
		testcontainers.WithExposedPorts(publishedPort.String()),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{publishedPort: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "0"}}}
		}),
	}
}

// run finds the host port Docker bound on owner (the server namespace's
// owner) and runs the probe against it; its merge is applied to the
// client's result later.
func (p *published) run(ctx context.Context, owner testcontainers.Container) error {
	if p == nil {
		return nil
	}
	if owner == nil {
		return fmt.Errorf("published port: the server's namespace has no container")
	}
	if err := p.onlyServer(ctx, owner.GetContainerID()); err != nil {
		return err
	}
	in, err := owner.Inspect(ctx)
	if err != nil {
		return err
	}
	var addr string
	for _, b := range in.NetworkSettings.Ports[publishedPort] {
		if b.HostIP.IsLoopback() && b.HostIP.Is4() {
			addr = net.JoinHostPort(b.HostIP.String(), b.HostPort)
		}
	}
	if addr == "" {
		return fmt.Errorf("published port: no 127.0.0.1 binding of %v (bindings %v)", publishedPort, in.NetworkSettings.Ports[publishedPort])
	}
	p.merge, err = p.probe.probe(ctx, addr, p.probe.knobs)
	if err != nil {
		return fmt.Errorf("published port %s: %w", addr, err)
	}
	return nil
}

// onlyServer checks what the exception promises: the network that leads
// to the host is labelled as such and holds the server's namespace and
// nothing else.
func (p *published) onlyServer(ctx context.Context, ownerID string) error {
	ni, err := p.lab.docker.NetworkInspect(ctx, p.nw.ID, client.NetworkInspectOptions{})
	if err != nil {
		return fmt.Errorf("published-port network: %w", err)
	}
	_, has := ni.Network.Containers[ownerID]
	if ni.Network.Labels[scenario.LabelPublished] != "true" || !has || len(ni.Network.Containers) != 1 {
		return fmt.Errorf("published-port network %s: labels %v, %d containers; want %s=true and only the server",
			ni.Network.Name, ni.Network.Labels, len(ni.Network.Containers), scenario.LabelPublished)
	}
	return nil
}

// apply folds the probe's observations into the client's result and
// judges it again: the scenario's verdicts see the host's part with the
// rest (a result whose driver failed is left as it is).
func (p *published) apply(res *scenario.Result) error {
	if p == nil || p.merge == nil {
		return nil
	}
	if err := p.merge(res); err != nil {
		return err
	}
	if res.Error != "" || p.probe.sc == nil || p.probe.sc.Verdicts == nil {
		return nil
	}
	return p.probe.sc.Judge(res)
}

// remove deletes the extra network once its containers are gone.
func (p *published) remove() {
	if p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = p.nw.Remove(ctx)
}
