package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/moby/moby/api/types/container"
	"strings"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/tcplab/tcplab/lab/kernel"
)

// ErrUnsupported means the Docker endpoint answers but cannot give the lab
// what every scenario needs; the error names the missing feature.
var ErrUnsupported = errors.New("this Docker endpoint cannot run the lab")

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
