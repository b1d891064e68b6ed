//go:build linux

package netimpair_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/vishvananda/netns"

	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/netimpair"
)

// ownerEnv makes the test binary TestOrphan's child: it attaches to the
// container this names, says so, and waits to be killed.
const ownerEnv = "NETIMPAIR_TEST_OWNER_OF"

const orphanRTT = 40 * time.Millisecond

func orphanOwner(target string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h, err := netimpair.AttachID(ctx, target, netimpair.RTT(orphanRTT))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("attached:", h)
	<-ctx.Done() // SIGKILL comes first; a lost parent's child gives up here
	os.Exit(1)
}

// startOwner runs this test binary as a process that attaches to target
// and returns once the impairment is in force.
func startOwner(t *testing.T, target string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), ownerEnv+"="+target)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Scan()
		line <- sc.Text()
	}()
	select {
	case l := <-line:
		if !strings.HasPrefix(l, "attached:") {
			t.Fatalf("the owner process: %q", l)
		}
		t.Logf("owner process %d: %s", cmd.Process.Pid, l)
	case <-time.After(2 * time.Minute):
		t.Fatal("the owner process did not attach in 2 minutes")
	}
	return cmd
}

// kill9 kills the owner as a CI timeout or the OOM killer would: no
// Close, no clean-up of any kind.
func kill9(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// nsState is what a target's namespace holds of interest: its tables and
// root qdiscs.
func nsState(t *testing.T, ctx context.Context, ctr testcontainers.Container) (tbls, qdiscs []string, ok bool) {
	ok = inNetns(t, ctx, ctr, func(ns netns.NsHandle) {
		tbls, qdiscs = tables(t, ns), rootQdiscs(t, ns)
	})
	slices.Sort(tbls)
	slices.Sort(qdiscs)
	return tbls, qdiscs, ok
}

// sidecarLabels lists target's sidecars' labels.
func sidecarLabels(t *testing.T, ctx context.Context, target string) []map[string]string {
	t.Helper()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	l, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", netimpair.LabelTarget+"="+target)})
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, c := range l.Items {
		out = append(out, c.Labels)
	}
	return out
}

// TestOrphan kills the process that attached (SIGKILL, no Close): its
// sidecar and impairment stay, a live owner's sidecar is refused and
// kept, and then netimpair.Clean (tcplab clean's code) and, the second
// time, a plain Attach remove the orphan and restore the target exactly.
func TestOrphan(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ctr, addr := service(t, ctx)
	target := ctr.GetContainerID()
	c, _ := echoConn(t, addr)
	defer c.Close()
	baseline(t, "round trips before", echoes(t, c, 5)...)
	tbls0, qd0, root := nsState(t, ctx, ctr)
	t.Logf("before: tables %v, root qdiscs %v", tbls0, qd0)
	restored := func(when string) {
		t.Helper()
		if n := sidecarsOf(t, ctx, target); n != 0 {
			t.Errorf("%s: %d sidecars left", when, n)
		}
		if root {
			if tbls, qd, _ := nsState(t, ctx, ctr); !slices.Equal(tbls, tbls0) || !slices.Equal(qd, qd0) {
				t.Errorf("%s: tables %v, root qdiscs %v; want as before: %v, %v", when, tbls, qd, tbls0, qd0)
			}
		}
		baseline(t, when+": round trips, same connection", echoes(t, c, 10)...)
		// Five fresh handshakes, judged by their median: one connect alone
		// took 23 ms once on a busy runner (the same connection's round
		// trips then up to 9 ms), while a remaining +40 ms puts every one
		// past 40 ms.
		var took []time.Duration
		for range 5 {
			c2, d := echoConn(t, addr)
			c2.Close()
			took = append(took, d)
		}
		baseline(t, when+": connect", took...)
	}

	// 1. The owner lives: its sidecar is refused and kept.
	owner := startOwner(t, target)
	within(t, "round trips, owner attached", orphanRTT, echoes(t, c, 10)...)
	if _, err := netimpair.Attach(ctx, ctr, netimpair.RTT(orphanRTT)); !errors.Is(err, netimpair.ErrAttached) || !strings.Contains(err.Error(), "owner live") {
		t.Errorf("Attach beside a live owner's sidecar: %v, want ErrAttached, owner live", err)
	}
	rep, err := netimpair.Clean(ctx, netimpair.CleanOptions{Target: target})
	if err != nil || len(rep.Removed) != 0 || len(rep.Kept) != 1 || rep.Kept[0].Owner != "live" {
		t.Fatalf("Clean beside a live owner: %+v, %v; want it kept, owner live", rep, err)
	}

	// 2. SIGKILL: the impairment stays; Clean removes it.
	ls := sidecarLabels(t, ctx, target)
	if len(ls) != 1 || ls[0][harness.LabelLock] == "" {
		t.Fatalf("sidecar labels %v: want one sidecar naming its owner's lock", ls)
	}
	lock := ls[0][harness.LabelLock]
	kill9(t, owner)
	within(t, "round trips, owner killed", orphanRTT, echoes(t, c, 10)...)
	rep, err = netimpair.Clean(ctx, netimpair.CleanOptions{Target: target})
	if err != nil || len(rep.Removed) != 1 || len(rep.Kept) != 0 {
		t.Fatalf("Clean after the owner was killed: %+v, %v; want it removed", rep, err)
	}
	if s := rep.Removed[0]; s.Owner != "dead" || !s.Restored || s.Target != target {
		t.Errorf("removed %+v: want owner dead, restored, target %s", s, target)
	}
	t.Logf("Clean removed %+v", rep.Removed[0])
	if _, err := os.Stat(lock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dead owner's lock file %s: %v, want it removed", lock, err)
	}
	restored("after Clean")

	// 3. Again, and this time the next Attach finds the orphan.
	kill9(t, startOwner(t, target))
	h, err := netimpair.Attach(ctx, ctr, netimpair.RTT(orphanRTT))
	if err != nil {
		t.Fatalf("Attach after the owner was killed: %v, want the orphan replaced", err)
	}
	if n := sidecarsOf(t, ctx, target); n != 1 {
		t.Errorf("%d sidecars after Attach replaced the orphan, want 1", n)
	}
	within(t, "round trips, new owner", orphanRTT, echoes(t, c, 10)...)
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	restored("after the new owner's Close")
}
