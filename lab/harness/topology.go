package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/tcplab/tcplab/lab/scenario"
)

// node is one container of a run, declared before anything starts.
type node struct {
	name    string   // role, and the alias on the lab network
	cmd     []string // arguments to /tcplab
	sysctls map[string]string
	caps    []string // only these capabilities (all others dropped)
	netnsOf string   // share this node's network namespace instead of joining the network
	wait    wait.Strategy
	// fetch copies a file out of the container after the client is done:
	// the node is stopped (SIGTERM) first so it can finish writing.
	fetch, fetchTo string
}

// topology is a run's network and nodes, in start order.
type topology struct {
	lab   *Lab
	nodes []node
}

// topology declares server, optional impairment sidecar and client for sc.
func (l *Lab) topology(sc *scenario.Scenario, k scenario.Knobs, o options) *topology {
	args := k.Args()
	ready := wait.ForLog(scenario.ReadyLine).WithStartupTimeout(30 * time.Second).WithPollInterval(50 * time.Millisecond)
	t := &topology{lab: l}
	t.add(node{name: "server", cmd: append([]string{"serve", sc.ID}, args...),
		sysctls: l.sysctls(k, scenario.Server), wait: ready})
	switch {
	case o.pcap != "":
		// The sidecar observes (and, if the scenario wants, impairs).
		t.add(node{name: "impair", cmd: []string{"agent", "-pcap", capturePath}, caps: []string{"NET_ADMIN", "NET_RAW"},
			netnsOf: "server", wait: ready, fetch: capturePath, fetchTo: o.pcap})
	case sc.Sidecar:
		t.add(node{name: "impair", cmd: []string{"agent"}, caps: []string{"NET_ADMIN"}, netnsOf: "server", wait: ready})
	}
	t.add(node{name: "client", cmd: append([]string{"client", sc.ID, "-server", "server"}, args...),
		sysctls: l.sysctls(k, scenario.Client),
		wait:    wait.ForExit().WithExitTimeout(sc.Timeout + 30*time.Second).WithPollInterval(100 * time.Millisecond)})
	return t
}

func (t *topology) add(n node) { t.nodes = append(t.nodes, n) }

// run starts the nodes in order on a fresh network, collects the client's
// result and removes everything, also when something fails.
func (t *topology) run(ctx context.Context, sc *scenario.Scenario, k scenario.Knobs) (res *scenario.Result, err error) {
	labels := t.lab.labels()
	pub, err := t.lab.publish(ctx, sc) // nil unless sc.Published
	if err != nil {
		return nil, err
	}
	defer pub.remove()
	nw, err := tcnetwork.New(ctx, tcnetwork.WithLabels(labels))
	if err != nil {
		return nil, fmt.Errorf("creating the lab network: %w", err)
	}
	started := map[string]testcontainers.Container{}
	var order []testcontainers.Container
	defer func() {
		for i := len(order) - 1; i >= 0; i-- {
			terminate(order[i])
		}
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = nw.Remove(rctx)
	}()
	for _, n := range t.nodes {
		opts := []testcontainers.ContainerCustomizer{
			testcontainers.WithCmd(n.cmd...),
			testcontainers.WithLabels(labels),
			testcontainers.WithWaitStrategy(n.wait),
		}
		netns := ""
		if n.netnsOf != "" {
			netns = started[n.netnsOf].GetContainerID()
		} else {
			opts = append(opts, tcnetwork.WithNetwork([]string{n.name}, nw))
		}
		if n.name == "server" {
			opts = append(opts, pub.serverOptions()...)
		}
		opts = append(opts, testcontainers.WithHostConfigModifier(hostConfig(n.sysctls, netns, n.caps...)))
		c, err := testcontainers.Run(ctx, t.lab.Image, opts...)
		if c != nil {
			order = append(order, c)
			started[n.name] = c
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w%s", sc.ID, n.name, err, t.logTail(ctx, order))
		}
		if n.name == "server" {
			if err := pub.run(ctx, c, k); err != nil {
				return nil, fmt.Errorf("%s: %w%s", sc.ID, err, t.logTail(ctx, order))
			}
		}
	}
	client := started["client"]
	st, err := client.State(ctx)
	if err != nil {
		return nil, err
	}
	out, err := logs(ctx, client)
	if err != nil {
		return nil, err
	}
	if st.ExitCode != 0 {
		return nil, fmt.Errorf("%s client exited %d%s", sc.ID, st.ExitCode, t.logTail(ctx, order))
	}
	for i, n := range t.nodes {
		if n.fetch != "" {
			if err := fetchFile(ctx, order[i], n.fetch, n.fetchTo); err != nil {
				return nil, fmt.Errorf("%s %s: %w", sc.ID, n.name, err)
			}
		}
	}
	line := lastJSONLine(out)
	res = &scenario.Result{}
	if err := jsonUnmarshal(line, res); err != nil {
		return nil, fmt.Errorf("%s: no result from the client (%v)%s", sc.ID, err, t.logTail(ctx, order))
	}
	if res.Error != "" {
		return res, fmt.Errorf("%s: %s%s", sc.ID, res.Error, t.logTail(ctx, order))
	}
	if err := pub.apply(res); err != nil {
		return res, fmt.Errorf("%s: %w", sc.ID, err)
	}
	return res, nil
}

// capturePath is where the sidecar writes its capture.
const capturePath = "/tmp/capture.pcap"

// fetchFile stops c (SIGTERM, so it flushes) and copies path out to dst.
func fetchFile(ctx context.Context, c testcontainers.Container, path, dst string) error {
	grace := 10 * time.Second
	if err := c.Stop(ctx, &grace); err != nil {
		return err
	}
	rc, err := c.CopyFileFromContainer(ctx, path)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// logTail renders the last lines of every node's log, for error messages.
func (t *topology) logTail(ctx context.Context, cs []testcontainers.Container) string {
	var b strings.Builder
	for i, c := range cs {
		out, err := logs(ctx, c)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "\n--- %s log:\n%s", t.nodes[i].name, strings.Join(lines, "\n"))
	}
	return b.String()
}

// Cleanup removes every container and network carrying label=value.
func Cleanup(ctx context.Context, cli *client.Client, label, value string) error {
	f := client.Filters{}.Add("label", label+"="+value)
	var errs []error
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return err
	}
	for _, c := range cs.Items {
		_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		errs = append(errs, err)
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return err
	}
	for _, n := range ns.Items {
		_, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
