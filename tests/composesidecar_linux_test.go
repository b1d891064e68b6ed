package tests

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/tcpmodel"
)

// TestComposeSidecar runs compose/impair-sidecar.yml, the compose snippet
// docs/own-containers.md shows, as it stands: an HTTP service (built
// FROM scratch here) with the agent beside it as a compose service. Its
// dials take the asked 50 ms more (median of 21, so a SYN lost to the
// snippet's 1 % loss does not decide), its counters say it queued them,
// and stopping the sidecar restores the service's network.
func TestComposeSidecar(t *testing.T) {
	if testing.Short() {
		t.Skip("runs compose")
	}
	compose := composeCommand(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	arch := runtime.GOARCH
	labImage, err := harness.Image(ctx, arch)
	require.NoError(t, err)
	app := httpServerImage(t, ctx, arch)

	var b [4]byte
	_, _ = rand.Read(b[:])
	project := "tcplabsidecar" + hex.EncodeToString(b[:])
	env := append(os.Environ(), "APP_IMAGE="+app, "TCPLAB_IMAGE="+labImage)
	runIn := func(ctx context.Context, args ...string) (string, error) {
		full := append(append(slices.Clone(compose[1:]), "-p", project, "-f", "../compose/impair-sidecar.yml"), args...)
		cmd := exec.CommandContext(ctx, compose[0], full...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	run := func(args ...string) (string, error) { return runIn(ctx, args...) }
	// Its own context: the test's is cancelled by the time clean-ups run.
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer ccancel()
		if out, err := runIn(cctx, "down", "--remove-orphans", "-t", "5"); err != nil {
			t.Errorf("compose down: %v\n%s", err, out)
		}
	})
	out, err := run("up", "-d")
	require.NoError(t, err, out)
	require.Eventually(t, func() bool {
		logs, _ := run("logs", "app-impair")
		return strings.Contains(logs, "tcplab sidecar: ready")
	}, time.Minute, 200*time.Millisecond, "the sidecar never said it was ready")
	id, err := run("ps", "-q", "app")
	require.NoError(t, err, id)
	ip, err := exec.CommandContext(ctx, "docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", strings.TrimSpace(id)).Output()
	require.NoError(t, err)
	addr := net.JoinHostPort(strings.TrimSpace(string(ip)), "8080")

	rtt := 50 * time.Millisecond
	impaired := medianDial(t, addr, 21)
	assert.GreaterOrEqual(t, impaired, rtt, "a dial with the sidecar: the handshake's round trip is delayed")
	assert.LessOrEqual(t, impaired, tcpmodel.LateBound(rtt, 0.10, 2*time.Millisecond), "a dial with the sidecar")

	counters, err := run("exec", "-T", "app-impair", "/tcplab", "sidecar", "call", "counters")
	require.NoError(t, err, counters)
	var c impair.Counters
	require.NoError(t, json.Unmarshal([]byte(lastLine(counters)), &c), counters)
	if logs, _ := run("logs", "app-impair"); strings.Contains(logs, "[netem]") {
		t.Log("the kernel has sch_netem: netem delays, and there is no delay line to count")
	} else {
		require.NotNil(t, c.DelayLine, "counters of a sidecar without a delay line: %s\n%s", counters, logs)
		assert.GreaterOrEqual(t, c.DelayLine.Queued, uint64(21), "packets the delay line held: at least the SYNs")
	}

	out, err = run("stop", "-t", "10", "app-impair")
	require.NoError(t, err, out)
	restored := medianDial(t, addr, 21)
	assert.Less(t, restored, rtt/2, "a dial once the sidecar stopped: app's network restored")
	t.Logf("dial median: %v with the sidecar (RTT +%v asked), %v after it stopped", impaired, rtt, restored)
}

// composeCommand is Compose v2's plugin, or else Compose 1.29's
// docker-compose; the test skips without either.
func composeCommand(t *testing.T) []string {
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}
	}
	t.Skip("no docker compose and no docker-compose")
	return nil
}

// httpServerImage builds lab/netimpair/testdata/httpserver into an image
// FROM scratch (nothing of the lab in it), removed at the test's end.
func httpServerImage(t *testing.T, ctx context.Context, arch string) string {
	dir := t.TempDir()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(dir, "httpserver"), "../lab/netimpair/testdata/httpserver")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	df := "FROM scratch\nCOPY httpserver /httpserver\nENTRYPOINT [\"/httpserver\"]\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644))
	ref := "tcplab-test-httpserver:" + filepath.Base(dir)
	out, err = exec.CommandContext(ctx, "docker", "build", "-q", "-t", ref, dir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", ref).Run() })
	return ref
}

// medianDial dials addr n times from this host and returns the median
// time to connect.
func medianDial(t *testing.T, addr string, n int) time.Duration {
	var took []time.Duration
	for range n {
		t0 := time.Now()
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		require.NoError(t, err)
		took = append(took, time.Since(t0))
		c.Close()
	}
	slices.Sort(took)
	return took[n/2]
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
