package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/tcplab/tcplab/lab/kernel"
	"github.com/tcplab/tcplab/lab/planner"
	"github.com/tcplab/tcplab/lab/scenario"
)

// ErrUnsupported means the Docker endpoint answers but cannot give the lab
// what every scenario needs; the error names the missing feature.
var ErrUnsupported = errors.New("this Docker endpoint cannot run the lab")

// preflight runs the probe and the reachability check side by side and
// returns the kernel's facts, or the first check's one-line refusal (the
// probe's, what the daemon refused, first).
func (l *Lab) preflight(ctx context.Context) (kernel.Facts, error) {
	var facts kernel.Facts
	var perr, rerr error
	var wg sync.WaitGroup
	wg.Go(func() { facts, perr = l.probe(ctx) })
	wg.Go(func() { rerr = l.reach(ctx) })
	wg.Wait()
	if perr != nil {
		return facts, perr
	}
	return facts, rerr
}

// probeSysctl is set on the probe container: every scenario pins its own
// net sysctls per container, which rootless runtimes may refuse.
const probeSysctl, probeSomaxconn = "net.core.somaxconn", "77"

// probe is the preflight: one throwaway container with what the lab's
// containers get (a per-container net sysctl, NET_ADMIN with everything
// else dropped, the binary built for l.Platform). It returns the kernel's
// facts, or an ErrUnsupported naming the first missing feature.
func (l *Lab) probe(ctx context.Context) (kernel.Facts, error) {
	c, err := testcontainers.Run(ctx, l.Image, testcontainers.WithCmd("probe"), testcontainers.WithLabels(l.labels()),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hostConfig(map[string]string{probeSysctl: probeSomaxconn}, "", 0, "NET_ADMIN")(hc)
			hc.NetworkMode = "none" // a namespace of its own, with no way out
		}),
		testcontainers.WithWaitStrategy(wait.ForExit().WithExitTimeout(60*time.Second)))
	defer terminate(c)
	if err != nil {
		return kernel.Facts{}, startError(err, l.Platform)
	}
	out, err := logs(ctx, c)
	if err != nil {
		return kernel.Facts{}, err
	}
	var f kernel.Facts
	if err := json.Unmarshal([]byte(lastJSONLine(out)), &f); err != nil {
		return kernel.Facts{}, startError(fmt.Errorf("probe printed %q: %v", firstLine(out), err), l.Platform)
	}
	return f, checkFacts(f, l.Platform)
}

// startError names the feature a daemon's refusal to start the probe
// points at, from the daemon's own message (Docker's runc, Podman's crun).
func startError(err error, p Platform) error {
	msg := firstLine(err.Error())
	low := strings.ToLower(msg)
	var missing string
	switch {
	case strings.Contains(low, "exec format error"):
		missing = fmt.Sprintf("running %s binaries (register qemu-user emulation, or set %s to the daemon's platform)", p, EnvPlatform)
	case strings.Contains(low, "/proc/sys/") || strings.Contains(low, "sysctl"):
		missing = "per-container net sysctls (" + probeSysctl + ")"
	case strings.Contains(low, "capabilit") || strings.Contains(low, "capadd") || strings.Contains(low, "net_admin"):
		missing = "the NET_ADMIN capability"
	default:
		return fmt.Errorf("probe container: %s", msg)
	}
	return fmt.Errorf("%w: it refused %s: %s", ErrUnsupported, missing, msg)
}

// checkFacts compares what the probe saw with what it was given.
func checkFacts(f kernel.Facts, p Platform) error {
	switch {
	case f.GOARCH != p.Arch:
		return fmt.Errorf("%w: the lab binary built for %s ran as %q", ErrUnsupported, p, f.GOARCH)
	case f.Somaxconn != probeSomaxconn:
		return fmt.Errorf("%w: per-container net sysctls are not applied (%s=%s asked, %q inside)", ErrUnsupported, probeSysctl, probeSomaxconn, f.Somaxconn)
	case !f.NetAdmin:
		why := ""
		if f.CapsError != "" {
			why = " (" + f.CapsError + ")"
		}
		return fmt.Errorf("%w: the NET_ADMIN capability was not granted%s", ErrUnsupported, why)
	}
	return nil
}

// ReachPort is the port of the preflight's reachability check; no
// scenario uses it, so a firewall rule can aim at the check alone.
const ReachPort = "7099"

// reach is the preflight's second half: two containers on an internal lab
// network, one dialling the other by name, as every run's client dials its
// server's control channel. A host whose firewall drops traffic between
// containers on one bridge (Docker's FORWARD policy DROP with
// br_netfilter, met by Podman's bridges on a host running both) fails
// here with one line, before any run, instead of every run failing
// "control channel …: i/o timeout".
func (l *Lab) reach(ctx context.Context) (err error) {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	nw, err := tcnetwork.New(ctx, tcnetwork.WithLabels(l.labels()), tcnetwork.WithInternal())
	if err != nil {
		return fmt.Errorf("preflight: creating a lab network: %w", err)
	}
	defer func() {
		rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer rcancel()
		_ = nw.Remove(rctx)
	}()
	// The listener runs as an agent does (its image, NET_ADMIN), to try
	// the impairment mechanisms in a namespace of its own; the dialler as
	// a client does, with no capability.
	run := func(image, alias string, caps []string, strategy wait.Strategy, args ...string) (testcontainers.Container, error) {
		c, err := testcontainers.Run(ctx, image, testcontainers.WithCmd(append([]string{"reach"}, args...)...),
			testcontainers.WithLabels(l.labels()), tcnetwork.WithNetwork([]string{alias}, nw),
			testcontainers.WithHostConfigModifier(hostConfig(nil, "", 0, caps...)),
			testcontainers.WithWaitStrategy(strategy))
		if err != nil {
			terminate(c)
			return nil, startError(err, l.Platform)
		}
		return c, nil
	}
	srv, err := run(l.AgentImage, "reach", []string{"NET_ADMIN"}, wait.ForLog("listening on").WithStartupTimeout(60*time.Second), "-listen", ":"+ReachPort, "-for", "60s", "-mechanisms")
	if err != nil {
		return err
	}
	defer terminate(srv)
	out, err := logs(ctx, srv)
	if err != nil {
		return err
	}
	if l.Mechanisms, err = parseMechanisms(out); err != nil {
		return err
	}
	cl, err := run(l.Image, "reach-client", nil, wait.ForExit().WithExitTimeout(60*time.Second), "-dial", "reach:"+ReachPort, "-timeout", "10s")
	if err != nil {
		return err
	}
	defer terminate(cl)
	st, err := cl.State(ctx)
	if err != nil {
		return err
	}
	if st.ExitCode != 0 {
		out, _ := logs(ctx, cl)
		return fmt.Errorf("%w: two containers on one lab network cannot connect (%s); a host firewall dropping bridged traffic does this, such as Docker's FORWARD policy DROP over another runtime's bridges (docs/hosts.md)",
			ErrUnsupported, strings.TrimSpace(firstLine(out)))
	}
	return nil
}

// Mechanisms are the impairment mechanisms the daemon's kernel offers, as
// the preflight found them in a namespace of its own.
type Mechanisms struct {
	Netem   bool // sch_netem
	NFQueue bool // NFQUEUE: the delay line
}

// parseMechanisms reads the reach listener's "mechanisms netem=… nfqueue=…".
func parseMechanisms(out string) (Mechanisms, error) {
	for _, line := range strings.Split(out, "\n") {
		var m Mechanisms
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "mechanisms netem=%t nfqueue=%t", &m.Netem, &m.NFQueue); err == nil {
			return m, nil
		}
	}
	return Mechanisms{}, fmt.Errorf("preflight: the reachability check said no mechanisms: %q", firstLine(out))
}

// ErrHostCannot marks a row this host cannot run: the preflight found its
// kernel without the impairment mechanism the row needs. It is the
// host's doing, not TCP's: the row is NOT RUN (ErrCouldNotRun), with why.
var ErrHostCannot = fmt.Errorf("%w: this host cannot run it", ErrCouldNotRun)

// CannotRun says why this host cannot run r, or "" when it can: a delay
// (an RTT, a jitter, or loss through a named mechanism) needs netem or
// the delay line, and the preflight found which the kernel has.
func (l *Lab) CannotRun(r planner.Row) string {
	return cannotRun(r.Knobs.Impairment(), l.Mechanisms, l.Kernel)
}

func cannotRun(im scenario.Impairment, m Mechanisms, kernel string) string {
	if im.RTT == 0 && im.Jitter == 0 && (im.Loss == 0 || im.Mechanism == "auto") {
		return "" // nothing to hold: nf_tables alone drops
	}
	switch {
	case im.Mechanism == "netem" && !m.Netem:
		return fmt.Sprintf("impair.mechanism=netem, and kernel %s has no sch_netem", kernel)
	case im.Mechanism == "delayline" && !m.NFQueue:
		return fmt.Sprintf("impair.mechanism=delayline, and kernel %s has no NFQUEUE", kernel)
	case !m.Netem && !m.NFQueue:
		return fmt.Sprintf("kernel %s has neither sch_netem nor NFQUEUE: nothing can delay its packets", kernel)
	}
	return ""
}
