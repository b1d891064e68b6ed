package tests

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHostCannotRun: a row asking for a mechanism the kernel lacks
// (impair.mechanism=netem where there is no sch_netem, as on this
// project's machine and Docker Desktop's Apple Silicon VM) is named in
// one line before any run starts, reported NOT RUN with the reason, and
// exits 3: the host's doing, not TCP's. Where the kernel has sch_netem
// the row runs, and the test skips.
func TestHostCannotRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CLI against Docker")
	}
	bin := buildCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "results")
	cmd := exec.CommandContext(ctx, bin, "run", "latency-dial", "--set", "impair.mechanism=netem", "--set", "impair.rtt=10ms", "--out", out)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		t.Skip("this kernel has sch_netem: the row ran")
	}
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "%v\n%s", err, stderr.String())
	assert.Equal(t, 3, exit.ExitCode(), "stderr:\n%s", stderr.String())
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	require.NotEmpty(t, lines)
	assert.Contains(t, lines[0], "this host cannot run 1 of 1 rows, reported NOT RUN: latency-dial impair.mechanism=netem impair.rtt=10ms: impair.mechanism=netem, and kernel",
		"the first line, before any run")
	assert.Contains(t, stdout.String(), "NOT RUN")
	rep, err := os.ReadFile(filepath.Join(out, "report.json"))
	require.NoError(t, err)
	assert.Contains(t, string(rep), "has no sch_netem")
}
