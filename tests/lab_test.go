// Package tests runs every tcplab scenario between real containers and
// asserts SCENARIOS.md's expectations on what the client observed.
package tests

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

var (
	lab   *harness.Lab
	noLab string // why container tests skip
)

// parallel is how many tests run at once unless -test.parallel says
// otherwise: every test, since the harness paces the runs itself (how many
// hold containers, Docker's work, the timer-sensitive ones first and in
// batches), and it can only put first what has already asked.
const parallel = 64

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", fmt.Sprint(parallel))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	var err error
	lab, err = harness.New(ctx)
	cancel()
	if errors.Is(err, harness.ErrNoDocker) {
		noLab = "container tests skipped: " + err.Error()
		fmt.Println(noLab)
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "tcplab harness:", err)
		os.Exit(1)
	}
	code := m.Run()
	if lab != nil {
		// Every run removes its own; this catches what a failed removal
		// left, so nothing outlives the process.
		if err := lab.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "tcplab harness: clean-up:", err)
		}
	}
	os.Exit(code)
}

// run runs a scenario in containers, requires that the driver ran and that
// every expectation it checked held, and returns the result for the test's
// own assertions.
func run(t *testing.T, id string, knobs scenario.Knobs) *scenario.Result {
	t.Helper()
	if lab == nil {
		t.Skip(noLab)
	}
	sc, err := scenarios.Lookup(id)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), sc.Timeout+2*time.Minute)
	defer cancel()
	res, err := lab.Run(ctx, id, knobs)
	require.NoError(t, err)
	t.Logf("%s %v: %s\n  observations: %s", id, knobs, res.Headline, res.Observations)
	for _, c := range res.Checks {
		require.Truef(t, c.OK, "%s: expectation %q did not hold: %s", id, c.Name, c.Detail)
	}
	require.True(t, res.OK, "%s: result not ok", id)
	return res
}

// obs decodes r's observations into the scenario's type T, strictly: a
// missing, unknown or mistyped field fails the test.
func obs[T any](t *testing.T, r *scenario.Result) T {
	t.Helper()
	o, err := scenario.ReadObs[T](r)
	require.NoError(t, err)
	return o
}

func millis(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
