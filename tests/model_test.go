package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// §1 Model: one goroutine per connection holds 10,000 connections on the
// 2-core machine; the scenario asserts the regression budgets (RSS per
// connection, echo p99), the test the shape of the model.
func TestModelScale(t *testing.T) {
	t.Parallel()
	r := run(t, "model-scale", nil)
	assert.Equal(t, 10000.0, r.Num("conns_held"))
	assert.GreaterOrEqual(t, r.Num("server_goroutines"), 10000.0, "one goroutine per connection")
	assert.Positive(t, r.Num("server_rss_per_conn_bytes"))
	assert.GreaterOrEqual(t, r.Num("echo_round_trips"), 10000.0, "every connection echoed at least once")
}
