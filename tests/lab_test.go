// Package tests runs every tcplab scenario between real containers and
// asserts the catalogue's expectations (docs/scenarios.md) on what the
// client observed: the end-to-end proof that each scenario shows what
// the catalogue says it shows.
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
	"github.com/tcplab/tcplab/lab/impair"
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
	var sealed *harness.Sealed
	if lab != nil {
		// Over the whole run, not per test: every lab network made while
		// the tests run, by any process, must have no way out.
		if sealed, err = harness.WatchSealed(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "tcplab harness: watching networks:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	if sealed != nil {
		seen, bad, err := sealed.Stop()
		fmt.Printf("tcplab: %d lab networks made during the run, %d with a way out\n", seen, len(bad))
		for _, b := range bad {
			fmt.Fprintln(os.Stderr, "tcplab: not sealed:", b)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "tcplab: the network watch broke:", err)
		}
		if len(bad) > 0 || err != nil {
			code = 1
		}
	}
	if lab != nil {
		remeasured, runs := lab.Remeasured()
		p99, worst := lab.Lateness()
		fmt.Printf("tcplab: %d of %d runs measured again (a delay line or a role late); worst release lateness p99 %v, max %v\n", remeasured, runs, p99, worst)
		summary(remeasured, runs, p99, worst, lab.RemeasuredWhy())
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
	// No deadline here: the harness bounds a run's own work from when the
	// pacer admits it, and its wait for a place separately, so a run
	// that waits its turn behind others does not fail for it.
	res, err := lab.Run(context.Background(), id, knobs)
	if errors.Is(err, harness.ErrCouldNotRun) {
		t.Fatalf("%s %v: the lab could not run it (Docker, not TCP): %v", id, knobs, err)
	}
	require.NoError(t, err)
	if res.Attempts > 1 {
		t.Logf("%s %v: measured %d times (the delay line ran late: %s)", id, knobs, res.Attempts, impair.Lateness(res.Network))
	}
	t.Logf("%s %v: %s\n  observations: %s", id, knobs, res.Headline, res.Observations)
	for _, c := range res.Checks {
		require.Truef(t, c.OK, "%s: expectation %q did not hold: %s", id, c.Name, c.Detail)
	}
	require.True(t, res.OK, "%s: result not ok", id)
	// The client judged in its container; the scenario's Verdicts judge
	// the same result here to the same words: compose, `tcplab run` and
	// the tests share one function.
	sc, err := scenarios.Lookup(id)
	require.NoError(t, err)
	again := *res
	require.NoError(t, sc.Judge(&again))
	require.Equal(t, res.Checks, again.Checks, "%s: the result's checks are not its Verdicts'", id)
	require.Equal(t, res.Headline, again.Headline)
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

// summary appends this run's re-measurement count and the worst release
// lateness to $TCPLAB_SUMMARY, if set, as "remeasured=N runs=M
// late_p99_us=P late_max_us=X", so a script that runs the suite can add
// them up across runs (go test shows a passing package's output only
// with -v).
func summary(remeasured, runs int64, p99, worst time.Duration, why []string) {
	path := os.Getenv("TCPLAB_SUMMARY")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcplab: summary:", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "remeasured=%d runs=%d late_p99_us=%d late_max_us=%d\n", remeasured, runs, p99.Microseconds(), worst.Microseconds())
	for _, w := range why {
		fmt.Fprintf(f, "# measured again: %s\n", w)
	}
}
