package tests

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildCLI compiles the host CLI once per test.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tcplab")
	out, err := exec.Command("go", "build", "-o", bin, "../lab/cmd/tcplab").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// Bad input gets one clear line on stderr, a non-zero exit, and nothing
// left running.
func TestCLIBadInput(t *testing.T) {
	t.Parallel()
	bin := buildCLI(t)
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string
		exit int // 2: bad input, caught before anything starts
	}{
		{"unknown scenario", []string{"run", "no-such-scenario"}, nil, `unknown scenario "no-such-scenario"`, 2},
		{"unknown knob", []string{"run", "backlog-full", "--set", "server.nope=1"}, nil, `has no knob "server.nope"`, 2},
		{"host-wide sysctl", []string{"run", "backlog-full", "--set", "server.rmem_max=1"}, nil, `has no knob "server.rmem_max"`, 2},
		{"out-of-range value", []string{"run", "backlog-full", "--set", "server.somaxconn=99999"}, nil, "out of range", 2},
		{"bad sweep value", []string{"run", "backlog-syn-timeout", "--vary", "client.tcp_syn_retries=1,x"}, nil, "want an integer", 2},
		{"bad count", []string{"run", "--count", "0"}, nil, "--count 0", 2},
		{"no docker", []string{"run", "dial-refused"}, []string{"DOCKER_HOST=unix:///nonexistent/docker.sock"}, "docker is not reachable", 2},
		{"unreachable DOCKER_HOST", []string{"run", "dial-refused"}, []string{"DOCKER_HOST=tcp://127.0.0.1:1"}, "docker is not reachable at tcp://127.0.0.1:1", 2},
		{"ssh DOCKER_HOST", []string{"run", "dial-refused"}, []string{"DOCKER_HOST=ssh://lab@host.invalid"}, "cannot dial ssh://", 2},
		{"bad --platform", []string{"run", "dial-refused", "--platform", "linux/armv7"}, nil, "linux/amd64 or linux/arm64", 2},
		{"bad TCPLAB_PLATFORM", []string{"run", "dial-refused"}, []string{"TCPLAB_PLATFORM=windows/amd64"}, "TCPLAB_PLATFORM", 2},
		{"unknown command", []string{"frobnicate"}, nil, `unknown command "frobnicate"`, 2},
		{"merge a missing set", []string{"report", "/nonexistent/results-x"}, nil, "/nonexistent/results-x: no such file", 2},
		{"merge with a bad flag", []string{"report", "a", "--bogus"}, nil, "flag provided but not defined: -bogus", 2},
		{"negative rtt", []string{"run", "read-partial", "--set", "impair.rtt=-5ms"}, nil, "impair.rtt=\"-5ms\": out of range [0s, 1m0s]", 2},
		{"malformed rtt", []string{"run", "read-partial", "--set", "impair.rtt=abc"}, nil, "impair.rtt=\"abc\": want a duration", 2},
		{"rtt over a minute", []string{"run", "read-partial", "--set", "impair.rtt=2m"}, nil, "impair.rtt=\"2m\": out of range [0s, 1m0s]", 2},
		{"loss above 1", []string{"run", "read-partial", "--set", "impair.loss=1.5"}, nil, "impair.loss=\"1.5\": want a number from 0 to 1", 2},
		{"negative loss", []string{"run", "read-partial", "--set", "impair.loss=-0.1"}, nil, "want a number from 0 to 1", 2},
		{"jitter over rtt", []string{"run", "read-partial", "--set", "impair.rtt=10ms", "--set", "impair.jitter=20ms"}, nil, "impair.jitter=20ms is larger than impair.rtt=10ms", 2},
		{"memory limit below Docker's", []string{"run", "dial-refused", "--set", "server.memory_limit=1000"}, nil, "server.memory_limit=1000: Docker's smallest memory limit is 6291456 (6 MiB)", 2},
		{"unknown mechanism", []string{"run", "read-partial", "--set", "impair.mechanism=tc"}, nil, "want one of auto, netem, delayline", 2},
		{"--out is a file", []string{"run", "dial-refused", "--out", "cli_test.go"}, nil, "tcplab run: --out cli_test.go: not a directory", 2},
		{"bad swept rtt", []string{"run", "read-partial", "--vary", "impair.rtt=10ms,-1s"}, nil, "out of range", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tc.args...)
			cmd.Env = append(cmd.Environ(), tc.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "want a non-zero exit, got %v", err)
			assert.Equal(t, tc.exit, exit.ExitCode(), "bad input exits 2")
			msg := strings.TrimRight(stderr.String(), "\n")
			assert.Contains(t, msg, tc.want)
			assert.NotContains(t, msg, "\n", "one line: %q", msg)
			assert.Empty(t, stdout.String())
			if lab != nil {
				out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=tcplab.pid="+strconv.Itoa(cmd.Process.Pid)).Output()
				require.NoError(t, err)
				assert.Empty(t, strings.TrimSpace(string(out)), "containers left behind")
			}
		})
	}
}
