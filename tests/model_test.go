package tests

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/scenario"
)

// §1 Model: one goroutine per connection holds 10,000 connections on the
// 2-core machine; the scenario's verdicts check the model's shape and its
// regression budgets. model-scale is Alone: the harness starts nothing
// beside its measurement.
func TestModelScale(t *testing.T) {
	t.Parallel()
	run(t, "model-scale", nil)
}

// A role over its memory limit (server.memory_limit, set far below what
// 4,000 held connections take): the kernel OOM-kills the server, and the
// run fails saying so, as its own failure (not Docker's), rather than as
// the refused dials or the wait its client saw afterwards.
func TestOOMKilled(t *testing.T) {
	t.Parallel()
	if lab == nil {
		t.Skip(noLab)
	}
	res, err := lab.Run(context.Background(), "model-scale", scenario.Knobs{
		"client.conns": "4000", "server.memory_limit": "8388608"})
	require.Error(t, err, "the server held 4,000 connections in 8 MiB")
	assert.ErrorIs(t, err, harness.ErrOOMKilled)
	assert.NotErrorIs(t, err, harness.ErrCouldNotRun, "the run's own failure, not Docker's")
	assert.Contains(t, err.Error(), "server (memory limit 8388608 B) OOM-killed")
	if res != nil {
		assert.False(t, res.OK)
		assert.Equal(t, 1, res.Attempts, "an OOM kill is the knobs' doing: not measured again")
		assert.Contains(t, res.Error, "server (memory limit 8388608 B) OOM-killed")
	}
}
