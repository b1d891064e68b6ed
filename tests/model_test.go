package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tcplab/tcplab/lab/scenarios"
)

// §1 Model: one goroutine per connection holds 10,000 connections on the
// 2-core machine; the scenario asserts the regression budgets (RSS per
// connection, echo p99), the test the shape of the model. model-scale is
// Alone: the harness starts nothing beside its measurement.
func TestModelScale(t *testing.T) {
	t.Parallel()
	o := obs[scenarios.ModelScaleObs](t, run(t, "model-scale", nil))
	assert.Equal(t, int64(10000), o.ConnsHeld)
	assert.GreaterOrEqual(t, o.ServerGoroutines, 10000, "one goroutine per connection")
	assert.Positive(t, o.ServerRSSPerConnBytes)
	assert.Greater(t, o.ServerRSSBytes, o.ServerRSSBaselineBytes)
	assert.GreaterOrEqual(t, o.EchoRoundTrips, 10000, "every connection echoed at least once")
}
