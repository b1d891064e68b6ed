package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/egress"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// §6 The network in between: Docker's userland port proxy. The scenarios'
// verdicts judge the proxy's fates, the backend's queue and, once the
// harness's host probe has folded it in, the published port's view (run
// requires every check); the tests add what only the harness promises.

func TestProxyBacklog(t *testing.T) {
	t.Parallel()
	r := run(t, "proxy-backlog", scenario.Knobs{"server.backlog": "4", "client.dials": "10"})
	assert.Equal(t, egress.None, r.RouteOut, "the published network's gateway is cut like any other")
	require.NotNil(t, obs[scenarios.ProxyBacklogObs](t, r).Published, "the harness publishes the port and probes it from the host")
}

func TestProxyRefused(t *testing.T) {
	t.Parallel()
	r := run(t, "proxy-refused", scenario.Knobs{"client.dials": "5"})
	require.NotNil(t, obs[scenarios.ProxyRefusedObs](t, r).Published, "the harness publishes the port and probes it from the host")
}
