// Package tests runs every tcplab scenario between real containers and
// asserts SCENARIOS.md's expectations on what the client observed.
package tests

import (
	"context"
	"encoding/json"
	"errors"
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

func TestMain(m *testing.M) {
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
	os.Exit(m.Run())
}

// run runs a scenario in containers, requires that the driver ran and that
// every expectation it checked held, and returns the result for the test's
// own assertions.
func run(t *testing.T, id string, knobs scenario.Knobs) *Result {
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
	b, _ := json.Marshal(res.Observations)
	t.Logf("%s %v: %s\n  observations: %s", id, knobs, res.Headline, b)
	for _, c := range res.Checks {
		require.Truef(t, c.OK, "%s: expectation %q did not hold: %s", id, c.Name, c.Detail)
	}
	require.True(t, res.OK, "%s: result not ok", id)
	return &Result{Result: res, t: t}
}

// Result wraps a scenario result with typed access to observations.
type Result struct {
	*scenario.Result
	t *testing.T
}

func (r *Result) Num(key string) float64 {
	r.t.Helper()
	v, ok := r.Observations[key].(float64)
	require.Truef(r.t, ok, "observation %q is %T %v, not a number", key, r.Observations[key], r.Observations[key])
	return v
}

// Err decodes an error observation.
func (r *Result) Err(key string) scenario.ErrInfo {
	r.t.Helper()
	var e scenario.ErrInfo
	b, _ := json.Marshal(r.Observations[key])
	require.NoError(r.t, json.Unmarshal(b, &e), "observation %q", key)
	return e
}

// Decode decodes an observation into v.
func (r *Result) Decode(key string, v any) {
	r.t.Helper()
	b, _ := json.Marshal(r.Observations[key])
	require.NoError(r.t, json.Unmarshal(b, v), "observation %q", key)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
func millis(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
