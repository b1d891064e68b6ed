package tests

import "testing"

// §1 Model: one goroutine per connection holds 10,000 connections on the
// 2-core machine; the scenario's verdicts check the model's shape and its
// regression budgets. model-scale is Alone: the harness starts nothing
// beside its measurement.
func TestModelScale(t *testing.T) {
	t.Parallel()
	run(t, "model-scale", nil)
}
