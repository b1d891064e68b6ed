package harness

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"

	"github.com/tcplab/tcplab/lab/scenario"
)

// published is the one exception to "the host never dials a lab
// container": a scenario with a HostProbe shows what Docker's own port
// publishing does. The server alone joins an extra network labelled
// tcplab.published=true (port publishing needs a network with a way to the
// host; the lab's own networks have none), its PublishedPort is bound to
// 127.0.0.1 on a random host port, and the probe dials that from this
// process, on loopback only. A nil *published (every other scenario) does
// nothing.
type published struct {
	lab   *Lab
	nw    *testcontainers.DockerNetwork
	probe scenario.HostProbe
	merge scenario.Merge
}

var publishedPort = network.MustParsePort(strconv.Itoa(scenario.PublishedPort) + "/tcp")

// publish creates the extra network when sc has a host probe.
func (l *Lab) publish(ctx context.Context, sc *scenario.Scenario) (*published, error) {
	if sc.Published == nil {
		return nil, nil
	}
	labels := l.labels()
	labels[scenario.LabelPublished] = "true"
	nw, err := tcnetwork.New(ctx, tcnetwork.WithLabels(labels))
	if err != nil {
		return nil, fmt.Errorf("creating the published-port network: %w", err)
	}
	return &published{lab: l, nw: nw, probe: sc.Published}, nil
}

// serverOptions attach the server to the extra network and bind its
// PublishedPort to 127.0.0.1 only, on a port Docker picks.
func (p *published) serverOptions() []testcontainers.ContainerCustomizer {
	if p == nil {
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

// run finds the host port Docker bound for the server and runs the probe
// against it; its merge is applied to the client's result later.
func (p *published) run(ctx context.Context, server testcontainers.Container, k scenario.Knobs) error {
	if p == nil {
		return nil
	}
	if err := p.onlyServer(ctx, server.GetContainerID()); err != nil {
		return err
	}
	in, err := server.Inspect(ctx)
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
	p.merge, err = p.probe(ctx, addr, k)
	if err != nil {
		return fmt.Errorf("published port %s: %w", addr, err)
	}
	return nil
}

// onlyServer checks what the exception promises: the network that leads
// to the host is labelled as such and holds the server and nothing else.
func (p *published) onlyServer(ctx context.Context, serverID string) error {
	ni, err := p.lab.docker.NetworkInspect(ctx, p.nw.ID, client.NetworkInspectOptions{})
	if err != nil {
		return fmt.Errorf("published-port network: %w", err)
	}
	_, has := ni.Network.Containers[serverID]
	if ni.Network.Labels[scenario.LabelPublished] != "true" || !has || len(ni.Network.Containers) != 1 {
		return fmt.Errorf("published-port network %s: labels %v, %d containers; want %s=true and only the server",
			ni.Network.Name, ni.Network.Labels, len(ni.Network.Containers), scenario.LabelPublished)
	}
	return nil
}

// apply folds the probe's observations into the client's result.
func (p *published) apply(res *scenario.Result) error {
	if p == nil || p.merge == nil {
		return nil
	}
	return p.merge(res)
}

// remove deletes the extra network once its server is gone.
func (p *published) remove() {
	if p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = p.nw.Remove(ctx)
}
