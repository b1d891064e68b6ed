package netimpair

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/impair"
)

// Labels on every sidecar: LabelTarget is the full ID of the container it
// impairs, so a second Attach finds it.
const (
	LabelSidecar = "tcplab.netimpair"
	LabelTarget  = "tcplab.netimpair.target"
)

// sidecarReady is the line lab/cmd/tcplab's sidecar role prints once it
// serves (sidecar.go); after an impairment given at its start, it goes on
// with the mechanism in brackets (readyLine).
const sidecarReady = "tcplab sidecar: ready"

// Errors a caller may want to tell apart.
var (
	// ErrAttached: the target already has a netimpair sidecar.
	ErrAttached = errors.New("netimpair: the container already has an impairment sidecar")
	// ErrClosed: the handle was closed.
	ErrClosed = errors.New("netimpair: handle closed")
	// ErrNoDocker: the Docker daemon could not be reached.
	ErrNoDocker = errors.New("netimpair: Docker is not reachable")
	// ErrTarget: the container does not exist, is not running, or has no
	// network namespace of its own.
	ErrTarget = errors.New("netimpair: cannot impair this container")
)

// Handle is one attached impairment. Its methods are safe for concurrent
// use.
type Handle struct {
	mu      sync.Mutex
	sidecar testcontainers.Container
	target  string
	cfg     *config
	mech    Mechanism
	closed  bool
	claim   *harness.Claim // held while the sidecar exists: its owner lives
}

// Attach impairs the running container ctr's network as opts say, until
// Close. It starts the sidecar, applies the impairment, and returns once
// it is in force.
func Attach(ctx context.Context, ctr testcontainers.Container, opts ...Option) (*Handle, error) {
	if ctr == nil {
		return nil, errors.New("netimpair: no container")
	}
	return AttachID(ctx, ctr.GetContainerID(), opts...)
}

// AttachID is Attach for a container by name or ID, started any way
// (docker run, compose).
func AttachID(ctx context.Context, nameOrID string, opts ...Option) (*Handle, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	defer cli.Close()
	target, err := checkTarget(ctx, cli, nameOrID)
	if err != nil {
		return nil, err
	}
	if err := existing(ctx, cli, target, cfg.replace); err != nil {
		return nil, err
	}
	// The claim's lock is held from before the sidecar exists until Close
	// removed it: when this process dies, however it dies, the lock goes
	// with it, and the sidecar is an orphan the next Attach or
	// `tcplab clean` removes.
	claim, err := harness.NewClaim()
	if err != nil {
		return nil, fmt.Errorf("netimpair: the owner's lock: %w", err)
	}
	attached := false
	defer func() {
		if !attached {
			_ = claim.Release()
		}
	}()
	dinfo, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	p, err := harness.DaemonPlatform(dinfo.Info.OSType, dinfo.Info.Architecture)
	if err != nil {
		return nil, fmt.Errorf("netimpair: %w", err)
	}
	image, err := sidecarImage(ctx, cli, cfg.image, publishedRef, p.Arch)
	if err != nil {
		return nil, err
	}
	spec, err := json.Marshal(cfg.spec(cfg.mech))
	if err != nil {
		return nil, err
	}
	labels := claim.Labels()
	labels[LabelSidecar], labels[LabelTarget] = "1", target
	// The sidecar applies the impairment before its ready line, which
	// names the mechanism it chose: Attach waits for nothing else.
	var mech Mechanism
	sc, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:  image,
			Cmd:    []string{"sidecar", "serve", "-spec", string(spec)},
			Labels: labels,
			HostConfigModifier: func(hc *container.HostConfig) {
				hc.NetworkMode = container.NetworkMode("container:" + target)
				hc.CapDrop = []string{"ALL"}
				hc.CapAdd = []string{"NET_ADMIN"}
				hc.CPUShares = 4096 // the network must not wait for a core
				hc.Ulimits = harness.Ulimits()
			},
			WaitingFor: wait.ForLog(readyLine.String()).Submatch(func(_ string, m [][][]byte) error {
				if len(m) == 0 {
					return errors.New("the sidecar is not ready")
				}
				mech = Mechanism(m[0][1])
				return nil
			}).WithPollInterval(20 * time.Millisecond).WithStartupTimeout(30 * time.Second),
		},
		Started: true,
	})
	if err != nil {
		if sc != nil {
			if why := sidecarFailure(ctx, sc); why != "" {
				err = errors.New(why)
			}
			_ = sc.Terminate(context.WithoutCancel(ctx))
		}
		return nil, fmt.Errorf("netimpair: starting the sidecar: %w", err)
	}
	h := &Handle{sidecar: sc, target: target, cfg: cfg, claim: claim, mech: mech}
	attached = true
	return h, nil
}

// readyLine is the sidecar's ready line; it names the mechanism it chose.
var readyLine = regexp.MustCompile(regexp.QuoteMeta(sidecarReady) + ` \((netem|delayline)\)`)

// sidecarFailure is the line a sidecar that exited printed last, which
// says why it could not start (no sch_netem, no NFQUEUE, no NET_ADMIN).
func sidecarFailure(ctx context.Context, sc testcontainers.Container) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	r, err := sc.Logs(ctx)
	if err != nil {
		return ""
	}
	defer r.Close()
	b, _ := io.ReadAll(io.LimitReader(r, 1<<20))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if !strings.HasPrefix(last, "tcplab sidecar: ") || strings.HasPrefix(last, sidecarReady) {
		return ""
	}
	return strings.TrimPrefix(last, "tcplab sidecar: ")
}

// checkTarget returns the full ID of a running container that owns its
// network namespace.
func checkTarget(ctx context.Context, cli *testcontainers.DockerClient, nameOrID string) (string, error) {
	r, err := cli.ContainerInspect(ctx, nameOrID, client.ContainerInspectOptions{})
	if err != nil {
		if strings.Contains(err.Error(), "No such container") {
			return "", fmt.Errorf("%w: no container %q", ErrTarget, nameOrID)
		}
		return "", fmt.Errorf("netimpair: inspecting %q: %w", nameOrID, err)
	}
	c := r.Container
	if c.State == nil || !c.State.Running {
		return "", fmt.Errorf("%w: %q is not running", ErrTarget, nameOrID)
	}
	if c.HostConfig != nil {
		switch m := c.HostConfig.NetworkMode; {
		case m.IsHost():
			return "", fmt.Errorf("%w: %q uses the host's network, and impairing it would impair the host", ErrTarget, nameOrID)
		case m.IsNone():
			return "", fmt.Errorf("%w: %q has no network", ErrTarget, nameOrID)
		case m.IsContainer():
			return "", fmt.Errorf("%w: %q shares the network namespace of %s: attach to that one", ErrTarget, nameOrID, m.ConnectedContainer())
		}
	}
	return c.ID, nil
}

// existing refuses a second sidecar on target whose owner lives (or
// cannot be judged here), and removes, restoring the target, one whose
// owner is dead (its lock can be taken) or any with replace.
func existing(ctx context.Context, cli *testcontainers.DockerClient, target string, replace bool) error {
	l, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", LabelTarget+"="+target)})
	if err != nil {
		return fmt.Errorf("netimpair: listing sidecars: %w", err)
	}
	for _, c := range l.Items {
		var done func()
		if !replace {
			var state string
			if state, done = harness.JudgeOwner(c.Labels); done == nil {
				return fmt.Errorf("%w (%s, owner %s): close it first, or attach with ReplaceExisting", ErrAttached, c.ID[:12], state)
			}
		}
		_, err := removeSidecar(ctx, cli, c.ID)
		if done != nil {
			done()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// removeSidecar stops a sidecar, which restores the target's namespace
// on SIGTERM, and removes it. restored says the sidecar ran and exited 0
// (its clear-up succeeded); a sidecar that was not running leaves its
// tables (not its delay: the queue's bypass lets packets through) to the
// next sidecar's start.
func removeSidecar(ctx context.Context, cli *testcontainers.DockerClient, id string) (restored bool, err error) {
	r, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return false, fmt.Errorf("netimpair: inspecting the sidecar %s: %w", id[:12], err)
	}
	if r.Container.State != nil && r.Container.State.Running {
		timeout := 10
		if _, err := cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
			return false, fmt.Errorf("netimpair: stopping the sidecar %s: %w", id[:12], err)
		}
		if r, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil && r.Container.State != nil {
			restored = r.Container.State.ExitCode == 0
		}
	}
	if _, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err != nil {
		return restored, fmt.Errorf("netimpair: removing the sidecar %s: %w", id[:12], err)
	}
	return restored, nil
}

// call runs "tcplab sidecar call OP ARGS" in the sidecar and decodes its
// reply into out.
func (h *Handle) call(ctx context.Context, op string, args, out any) error {
	cmd := []string{"/tcplab", "sidecar", "call", op}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return err
		}
		cmd = append(cmd, string(b))
	}
	code, r, err := h.sidecar.Exec(ctx, cmd, tcexec.Multiplexed())
	if err != nil {
		return fmt.Errorf("netimpair: %s: docker exec: %w", op, err)
	}
	b, _ := io.ReadAll(r)
	if code != 0 {
		return fmt.Errorf("netimpair: %s: %s", op, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(b)), "tcplab sidecar call: ")))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("netimpair: %s: bad reply %q: %w", op, b, err)
		}
	}
	return nil
}

func (h *Handle) apply(ctx context.Context, cfg *config) error {
	var applied impair.Applied
	return h.call(ctx, "set", cfg.spec(h.mech), &applied)
}

// Set makes opts the whole impairment (what they leave out is off), at
// once, for new and established connections alike: packets already held
// keep their release time, later ones get the new one, none is
// reordered. Ports and the mechanism stay those of Attach.
func (h *Handle) Set(ctx context.Context, opts ...Option) error {
	cfg, err := newConfig(opts)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	if len(cfg.ports) > 0 && !slices.Equal(cfg.ports, h.cfg.ports) {
		return fmt.Errorf("netimpair: Set cannot change the ports (%v at Attach)", h.cfg.ports)
	}
	if cfg.mech != Auto && cfg.mech != h.cfg.mech {
		return fmt.Errorf("netimpair: Set cannot change the mechanism (%s at Attach)", h.cfg.mech)
	}
	if len(cfg.peers) > 0 && !slices.Equal(cfg.peers, h.cfg.peers) {
		return fmt.Errorf("netimpair: Set cannot change the peers (%v at Attach)", h.cfg.peers)
	}
	if len(h.cfg.peers) > 0 && cfg.rateBps > 0 {
		return fmt.Errorf("netimpair: Rate limits all the target sends and cannot select peers %v", h.cfg.peers)
	}
	cfg.ports, cfg.mech, cfg.peers = h.cfg.ports, h.cfg.mech, h.cfg.peers
	if err := h.apply(ctx, cfg); err != nil {
		return err
	}
	h.cfg = cfg
	return nil
}

// Clear removes the impairment and keeps the sidecar: Set brings it back.
func (h *Handle) Clear(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	if err := h.call(ctx, "clear", nil, nil); err != nil {
		return err
	}
	h.cfg = &config{ports: h.cfg.ports, peers: h.cfg.peers, mech: h.cfg.mech}
	return nil
}

// Mechanism is what delays and loses packets: Netem or DelayLine (Rate is
// TBF's with the delay line).
func (h *Handle) Mechanism() Mechanism { return h.mech }

// Target is the full ID of the impaired container.
func (h *Handle) Target() string { return h.target }

// String says what is applied, and how.
func (h *Handle) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return fmt.Sprintf("%s, by %s", h.cfg, h.mech)
}

// Close restores the target's network (the sidecar's rules go, every held
// packet is released at once, its table and qdisc are deleted) and removes
// the sidecar. Closing twice is a no-op.
func (h *Handle) Close(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	errClear := h.call(ctx, "clear", nil, nil)
	if errClear != nil && !h.targetRunning(ctx) {
		errClear = nil // a stopped target's namespace is gone with what was in it
	}
	// Terminate stops it first: SIGTERM, on which it clears again.
	errRm := h.sidecar.Terminate(context.WithoutCancel(ctx))
	_ = h.claim.Release() // a sidecar left by a failed removal is now an orphan
	if errRm != nil {
		return fmt.Errorf("netimpair: removing the sidecar: %w", errRm)
	}
	return errClear
}

// targetRunning reports whether the target still runs (true when unsure).
func (h *Handle) targetRunning(ctx context.Context) bool {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return true
	}
	defer cli.Close()
	r, err := cli.ContainerInspect(ctx, h.target, client.ContainerInspectOptions{})
	if err != nil {
		return !strings.Contains(err.Error(), "No such container")
	}
	return r.Container.State != nil && r.Container.State.Running
}
