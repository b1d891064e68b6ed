//go:build !container

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/report"
)

// A run's exit code keeps TCP's failures (1) apart from the lab's (3),
// and a row the harness left LATE is no pass.
func TestExitCode(t *testing.T) {
	row := func(v string) *report.Row { return &report.Row{Verdict: v} }
	for _, tc := range []struct {
		name string
		rows []*report.Row
		want int
	}{
		{"all passed", []*report.Row{row("PASS")}, 0},
		{"an expectation failed", []*report.Row{row("PASS"), row("FAIL")}, exitFailed},
		{"the lab could not run one", []*report.Row{row("PASS"), row(report.NotRun)}, exitCouldNot},
		{"both: TCP's failure wins", []*report.Row{row("FAIL"), row(report.NotRun)}, exitFailed},
		{"one not judged, the runner late", []*report.Row{row("PASS"), row(report.Late)}, exitCouldNot},
		{"late beside a failure", []*report.Row{row(report.Late), row("FAIL")}, exitFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitCode(&report.Report{Rows: tc.rows}); got != tc.want {
				t.Fatalf("exit %d, want %d", got, tc.want)
			}
		})
	}
}

// TestMain lets a test run this package's main as the CLI: the test
// binary, started again with asCLI set, is tcplab.
func TestMain(m *testing.M) {
	if os.Getenv(asCLI) == "1" {
		os.Args = append([]string{"tcplab"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const asCLI = "TCPLAB_TEST_AS_CLI"

// runCLI runs tcplab with args in dir, with no Docker daemon to reach
// (nothing here may start a container): its exit code and stderr.
func runCLI(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), asCLI+"=1", "DOCKER_HOST=unix:///nonexistent/docker.sock")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("tcplab %v: want a non-zero exit, got %v", args, err)
	}
	return exit.ExitCode(), strings.TrimRight(stderr.String(), "\n")
}

// Bad input to tcplab run exits 2 with one line, before Docker is asked
// anything; --out makes pcap/ only with --pcap.
func TestRunBadInput(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix paths and a Unix socket as DOCKER_HOST")
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a-file"), nil, 0o644))
	for _, tc := range []struct {
		name string
		args []string
		want string // the whole line
	}{
		{"--out an existing file", []string{"run", "dial-refused", "--out", "a-file"}, "tcplab run: --out a-file: not a directory"},
		{"--out under a file", []string{"run", "dial-refused", "--out", "a-file/x"}, "tcplab run: --out a-file/x: mkdir a-file: not a directory"},
		{"a negative duration knob", []string{"run", "dial-refused", "--set", "impair.rtt=-5ms"}, `tcplab run: knob impair.rtt="-5ms": out of range [0s, 1m0s]`},
		{"a duration knob over its range", []string{"run", "dial-refused", "--set", "impair.crash_after=2m"}, `tcplab run: knob impair.crash_after="2m": out of range [0s, 1m0s]`},
		{"a swept duration out of range", []string{"run", "dial-refused", "--vary", "impair.jitter=0s,-1ms"}, `tcplab run: knob impair.jitter="-1ms": out of range [0s, 1m0s]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := runCLI(t, dir, tc.args...)
			assert.Equal(t, 2, code, "bad input exits 2: %s", msg)
			assert.Equal(t, tc.want, msg)
		})
	}
	t.Run("--out without --pcap", func(t *testing.T) {
		code, msg := runCLI(t, dir, "run", "dial-refused", "--out", "r1")
		assert.Equal(t, 2, code, "no Docker: %s", msg)
		assert.Contains(t, msg, "docker is not reachable")
		assert.DirExists(t, filepath.Join(dir, "r1"))
		assert.NoDirExists(t, filepath.Join(dir, "r1", "pcap"))
	})
	t.Run("--out with --pcap", func(t *testing.T) {
		code, msg := runCLI(t, dir, "run", "dial-refused", "--out", "r2", "--pcap")
		assert.Equal(t, 2, code, "no Docker: %s", msg)
		assert.DirExists(t, filepath.Join(dir, "r2", "pcap"))
	})
}
