package tests

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/tcplab/tcplab/lab/egress"
)

// No way out: a run's client and server namespaces have no route
// beyond the lab's subnet, proven from inside by a route lookup to a
// documentation address that fails with ENETUNREACH, and the run still
// works over the subnet.
func TestNoWayOut(t *testing.T) {
	t.Parallel()
	r := run(t, "dial-refused", nil)
	assert.Equal(t, egress.None, r.RouteOut)
}

// The control: on an internal network without the agent's cut, Docker
// still gives a container a default route, and the same lookup finds it.
// So "none" above is the agent's doing, and the probe can see a way out.
func TestInternalNetworkStillRoutes(t *testing.T) {
	t.Parallel()
	if lab == nil {
		t.Skip(noLab)
	}
	ctx := t.Context()
	nw, err := tcnetwork.New(ctx, tcnetwork.WithInternal(), tcnetwork.WithLabels(map[string]string{"tcplab": "1", "tcplab.test": t.Name()}))
	require.NoError(t, err)
	defer func() { assert.NoError(t, nw.Remove(context.Background())) }()
	c, err := testcontainers.Run(ctx, lab.Image, testcontainers.WithCmd("probe"),
		testcontainers.WithLabels(map[string]string{"tcplab": "1", "tcplab.test": t.Name()}),
		tcnetwork.WithNetwork([]string{"probe"}, nw),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) { hc.CapDrop = []string{"ALL"} }),
		testcontainers.WithWaitStrategy(wait.ForExit().WithExitTimeout(30*time.Second)))
	if c != nil {
		defer func() { assert.NoError(t, c.Terminate(context.Background(), testcontainers.StopTimeout(0))) }()
	}
	require.NoError(t, err)
	rc, err := c.Logs(ctx)
	require.NoError(t, err)
	b, _ := io.ReadAll(rc)
	var p struct {
		RouteOut string `json:"route_out"`
	}
	require.NoError(t, json.Unmarshal(b, &p), "%s", b)
	assert.NotEqual(t, egress.None, p.RouteOut)
	assert.Contains(t, p.RouteOut, "192.0.2.1 via ")
}
