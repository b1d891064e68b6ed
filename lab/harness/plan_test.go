package harness_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/compose"
	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/scenarios"
	"github.com/tcplab/tcplab/lab/topology"
)

// The harness and compose plan every run alike: same hosts with the same
// sysctls, same nodes with the same capabilities and knob arguments; only
// names, lifetimes and where the result goes differ. No Docker needed.
func TestHarnessAndComposePlanAlike(t *testing.T) {
	for _, f := range compose.Files {
		lab := &harness.Lab{Image: "tcplab:test", Linear: f.Linear}
		runs, err := compose.Runs(scenarios.All())
		require.NoError(t, err)
		for _, r := range runs {
			h, err := lab.Plan(r.Scenario, r.Set)
			require.NoError(t, err)
			c, err := compose.Plan(r, f)
			require.NoError(t, err)
			require.Len(t, c.Hosts, len(h.Hosts))
			for i := range h.Hosts {
				assert.Equal(t, h.Hosts[i].Sysctls, c.Hosts[i].Sysctls, "%s %s: %s", f.Path, r.Name, h.Hosts[i].Name)
			}
			require.Len(t, c.Nodes, len(h.Nodes))
			for i, hn := range h.Nodes {
				cn := c.Nodes[i]
				assert.Equal(t, r.Name+"-"+hn.Name, cn.Name)
				assert.Equal(t, hn.Caps, cn.Caps, cn.Name)
				assert.Equal(t, hn.Owner, cn.Owner, cn.Name)
				assert.Equal(t, knobArgs(hn.Args), knobArgs(cn.Args), cn.Name)
			}
			for _, n := range c.Networks {
				assert.True(t, n.Internal)
			}
		}
	}
}

// A capture gives the server's agent NET_RAW and fetches its file.
func TestPlanCapture(t *testing.T) {
	lab := &harness.Lab{Image: "tcplab:test", Linear: true}
	sc, err := scenarios.Lookup("backlog-syn-timeout")
	require.NoError(t, err)
	top, err := lab.Plan(sc, nil, harness.Capture("/tmp/x.pcap"))
	require.NoError(t, err)
	a := top.Owner("server")
	assert.Equal(t, []string{topology.CapNetAdmin, topology.CapNetRaw}, a.Caps)
	assert.Equal(t, &topology.Mount{Source: topology.CapturePath, Target: "/tmp/x.pcap"}, a.Fetch)
	assert.Equal(t, []string{topology.CapNetAdmin}, top.Owner("client").Caps)
	assert.Equal(t, "0", top.Host("client").Sysctls[topology.LinearSysctl])
}

func knobArgs(args []string) []string {
	var out []string
	for _, a := range args {
		if strings.Contains(a, "=") {
			out = append(out, a)
		}
	}
	return out
}
