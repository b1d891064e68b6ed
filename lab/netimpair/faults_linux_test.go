//go:build linux

package netimpair_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/vishvananda/netns"

	"github.com/tcplab/tcplab/lab/netimpair"
)

// TestCustomizer puts the impairment in force from the container's start.
func TestCustomizer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const rtt = 30 * time.Millisecond
	imp := netimpair.WithImpairment(netimpair.RTT(rtt), netimpair.Ports(7002))
	ctr, addr := service(t, ctx, imp)
	if imp.Handle() == nil {
		t.Fatal("no handle after the container started")
	}
	c, took := echoConn(t, addr)
	defer c.Close()
	within(t, "first connect", rtt, took)
	within(t, "round trips", rtt, echoes(t, c, 10)...)
	if err := ctr.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	if n := sidecarsOf(t, ctx, ctr.GetContainerID()); n != 0 {
		t.Errorf("%d sidecars left after the container was terminated", n)
	}
}

// TestSidecarKilled kills the sidecar mid-test: traffic must flow
// undelayed (the queue's bypass flag), the handle must say it cannot
// reach it, a plain Attach must refuse the orphan, and ReplaceExisting
// must take over (its start removes the orphan's table) and leave
// nothing after Close.
func TestSidecarKilled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctr, addr := service(t, ctx)
	const rtt = 40 * time.Millisecond
	h, err := netimpair.Attach(ctx, ctr, netimpair.RTT(rtt))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := echoConn(t, addr)
	defer c.Close()
	within(t, "round trips attached", rtt, echoes(t, c, 5)...)

	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	byLabel := client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", netimpair.LabelTarget+"="+ctr.GetContainerID())}
	l, err := cli.ContainerList(ctx, byLabel)
	if err != nil || len(l.Items) != 1 {
		t.Fatalf("sidecars: %v, %v; want one", l.Items, err)
	}
	if _, err := cli.ContainerKill(ctx, l.Items[0].ID, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the queue's owner is gone once the process is
	baseline(t, "round trips after the sidecar was killed (bypass)", echoes(t, c, 5)[1:]...)
	if _, err := h.Counters(ctx); err == nil {
		t.Error("Counters of a killed sidecar: no error")
	}
	if _, err := netimpair.Attach(ctx, ctr, netimpair.RTT(rtt)); !errors.Is(err, netimpair.ErrAttached) {
		t.Errorf("Attach beside the killed sidecar: %v, want ErrAttached", err)
	}
	h2, err := netimpair.Attach(ctx, ctr, netimpair.RTT(rtt), netimpair.ReplaceExisting())
	if err != nil {
		t.Fatal(err)
	}
	within(t, "round trips after ReplaceExisting", rtt, echoes(t, c, 5)...)
	if err := h2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	baseline(t, "round trips after Close", echoes(t, c, 5)...)
	if l, err := cli.ContainerList(ctx, byLabel); err != nil || len(l.Items) != 0 {
		t.Errorf("sidecars after Close: %d, %v; want none", len(l.Items), err)
	}
	inNetns(t, ctx, ctr, func(ns netns.NsHandle) {
		if ts := tables(t, ns); slices.ContainsFunc(ts, func(s string) bool { return strings.HasPrefix(s, "netimpair") }) {
			t.Errorf("tables after Close: %v, want no netimpair*", ts)
		}
	})
}

// sidecarsOf counts the containers, running or not, labelled as id's sidecar.
func sidecarsOf(t *testing.T, ctx context.Context, id string) int {
	t.Helper()
	return len(sidecarLabels(t, ctx, id))
}

// TestNetemMissing asks for netem by name: where the Docker host's kernel
// lacks sch_netem, Attach fails with the sidecar's one-line reason and
// leaves no sidecar behind.
func TestNetemMissing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctr, _ := service(t, ctx)
	h, err := netimpair.Attach(ctx, ctr, netimpair.RTT(10*time.Millisecond), netimpair.WithMechanism(netimpair.Netem))
	if err == nil {
		_ = h.Close(ctx)
		t.Skip("the Docker host's kernel has sch_netem")
	}
	if want := "netimpair: starting the sidecar: the Docker host's kernel has no sch_netem: use the delay line or auto"; err.Error() != want {
		t.Errorf("Attach with netem: %q, want %q", err, want)
	}
	if n := sidecarsOf(t, ctx, ctr.GetContainerID()); n != 0 {
		t.Errorf("%d sidecars left after the refused Attach", n)
	}
}
