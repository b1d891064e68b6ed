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
	}{
		{"unknown scenario", []string{"run", "no-such-scenario"}, nil, `unknown scenario "no-such-scenario"`},
		{"unknown knob", []string{"run", "backlog-full", "--set", "server.nope=1"}, nil, `has no knob "server.nope"`},
		{"host-wide sysctl", []string{"run", "backlog-full", "--set", "server.rmem_max=1"}, nil, `has no knob "server.rmem_max"`},
		{"out-of-range value", []string{"run", "backlog-full", "--set", "server.somaxconn=99999"}, nil, "out of range"},
		{"bad sweep value", []string{"run", "backlog-syn-timeout", "--vary", "client.tcp_syn_retries=1,x"}, nil, "want an integer"},
		{"bad count", []string{"run", "--count", "0"}, nil, "--count 0"},
		{"no docker", []string{"run", "dial-refused"}, []string{"DOCKER_HOST=unix:///nonexistent/docker.sock"}, "docker is not reachable"},
		{"unreachable DOCKER_HOST", []string{"run", "dial-refused"}, []string{"DOCKER_HOST=tcp://127.0.0.1:1"}, "docker is not reachable at tcp://127.0.0.1:1"},
		{"ssh DOCKER_HOST", []string{"run", "dial-refused"}, []string{"DOCKER_HOST=ssh://lab@host.invalid"}, "cannot dial ssh://"},
		{"bad --platform", []string{"run", "dial-refused", "--platform", "linux/armv7"}, nil, "linux/amd64 or linux/arm64"},
		{"bad TCPLAB_PLATFORM", []string{"run", "dial-refused"}, []string{"TCPLAB_PLATFORM=windows/amd64"}, "TCPLAB_PLATFORM"},
		{"unknown command", []string{"frobnicate"}, nil, `unknown command "frobnicate"`},
		{"merge a missing set", []string{"report", "/nonexistent/results-x"}, nil, "/nonexistent/results-x: no such file"},
		{"merge with a bad flag", []string{"report", "a", "--bogus"}, nil, "flag provided but not defined: -bogus"},
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
			assert.Equal(t, 2, exit.ExitCode(), "bad input exits 2")
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
