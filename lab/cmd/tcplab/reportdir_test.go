//go:build !container

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// writeLoss writes a loss-retransmit result at loss 0.05 into dir, as a
// compose client does: failed or not, its client's delay line lateUS late.
func writeLoss(t *testing.T, dir, name string, ok bool, lateUS int64) {
	t.Helper()
	sc, err := scenarios.Lookup("loss-retransmit")
	require.NoError(t, err)
	knobs, err := sc.Resolve(scenario.Knobs{"impair.loss": "0.05"})
	require.NoError(t, err)
	obs, err := json.Marshal(scenarios.LossRetransmitObs{RTTMS: 20, Loss: 0.05, Requests: 1000, LatencyMS: []float64{20.4}, MinStallMS: -1})
	require.NoError(t, err)
	res := scenario.Result{Schema: scenario.Schema, Scenario: sc.ID, Knobs: knobs, Observations: obs, OK: ok,
		Network: &impair.Network{Mechanism: impair.DelayLine, Client: &impair.Counters{DelayLine: &impair.LineCounters{MaxLateUS: lateUS}}},
		Checks:  []scenario.Check{{Name: "each stall ≥ SRTT+200ms", OK: ok, Detail: "shortest 100.71 ms"}}}
	b, err := json.Marshal(res)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
}

// runTool runs the test binary as tcplab (TestMain): exit code, stdout
// and stderr.
func runTool(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), asCLI+"=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// Compose's report exits 0 when its rows only passed or were LATE (the
// runner late, not TCP), telling each late row on stderr with the command
// that measures it again; a FAIL beside a LATE still exits 1. -again
// prints just those commands.
func TestReportDirLate(t *testing.T) {
	const again = "tcplab run loss-retransmit --set impair.loss=0.05"
	const line = "tcplab report: loss-retransmit [impair.loss=0.05]: not judged, the runner was late (the delay line ran late (client: release late p99 0.0 ms, max 100.1 ms, read lag max 0.0 ms)); measure it again: " + again
	for _, tc := range []struct {
		name   string
		rows   []bool // each row: failed while late (true) or on time (false)
		passed bool   // beside them, a row that passed
		exit   int
		lates  int
	}{
		{"LATE alone", []bool{true}, false, 0, 1},
		{"LATE beside PASS", []bool{true}, true, 0, 1},
		{"LATE and FAIL", []bool{true, false}, true, 1, 1},
		{"FAIL alone", []bool{false}, false, 1, 0},
		{"PASS alone", nil, true, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for i, late := range tc.rows {
				us := map[bool]int64{true: 100100, false: 900}[late]
				writeLoss(t, dir, "0"+string(rune('1'+i))+"-loss-retransmit.json", false, us)
			}
			if tc.passed {
				writeLoss(t, dir, "09-loss-retransmit.json", true, 900)
			}
			code, stdout, stderr := runTool(t, "report", "-dir", dir)
			assert.Equal(t, tc.exit, code, "exit; stderr:\n%s\nstdout:\n%s", stderr, stdout)
			assert.Equal(t, tc.lates, strings.Count(stderr, line+"\n"), "stderr:\n%s", stderr)
			assert.FileExists(t, filepath.Join(dir, "report.json"))

			code, stdout, stderr = runTool(t, "report", "-dir", dir, "-again")
			assert.Equal(t, 0, code, stderr)
			assert.Equal(t, strings.Repeat(again+"\n", tc.lates), stdout)
		})
	}
}
