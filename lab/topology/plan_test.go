package topology_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
	"github.com/tcplab/tcplab/lab/topology"
)

func lookup(t *testing.T, id string) *scenario.Scenario {
	t.Helper()
	sc, err := scenarios.Lookup(id)
	require.NoError(t, err)
	return sc
}

// Options and knobs are validated once, in Plan, with nothing running.
func TestPlanErrors(t *testing.T) {
	sc := lookup(t, "dial-timeout")
	img := topology.WithImage("tcplab:test")
	for _, tc := range []struct {
		name    string
		sc      *scenario.Scenario
		knobs   scenario.Knobs
		opts    []topology.Option
		wantErr string
	}{
		{"defaults", sc, nil, []topology.Option{img}, ""},
		{"every option", sc, scenario.Knobs{"client.dial_timeout": "2s"}, []topology.Option{img, topology.WithName("dial-timeout-1"),
			topology.WithLinearSynTimeouts(true), topology.WithCapture("/tmp/x.pcap"), topology.WithLifetime(time.Hour),
			topology.WithResults("./results", "01-x.json"), topology.WithLabels(map[string]string{"tcplab": "1"}), topology.WithPublished()}, ""},
		{"no scenario", nil, nil, []topology.Option{img}, "no scenario"},
		{"no image", sc, nil, nil, "no image"},
		{"empty image", sc, nil, []topology.Option{topology.WithImage(" ")}, "empty image"},
		{"unknown knob", sc, scenario.Knobs{"server.nope": "1"}, []topology.Option{img}, `has no knob "server.nope"`},
		{"bad knob value", sc, scenario.Knobs{"server.somaxconn": "x"}, []topology.Option{img}, "want an integer"},
		{"bad name", sc, nil, []topology.Option{img, topology.WithName("Bad_Name")}, "WithName"},
		{"zero lifetime", sc, nil, []topology.Option{img, topology.WithLifetime(0)}, "WithLifetime"},
		{"empty capture", sc, nil, []topology.Option{img, topology.WithCapture("")}, "WithCapture"},
		{"results path", sc, nil, []topology.Option{img, topology.WithResults("./r", "a/b.json")}, "WithResults"},
		{"two bad options, both said", sc, nil, []topology.Option{img, topology.WithName("-"), topology.WithLifetime(-1)}, "WithLifetime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top, err := topology.Plan(tc.sc, tc.knobs, tc.opts...)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				assert.Nil(t, top)
				return
			}
			require.NoError(t, err)
			require.NoError(t, top.Validate())
		})
	}
}

// Validate catches hand-made or later-edited topologies that break the
// rules every runtime relies on.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*topology.Topology)
		wantErr string
	}{
		{"as planned", func(*topology.Topology) {}, ""},
		{"network with a way out", func(t *topology.Topology) { t.Networks[0].Internal = false }, "not internal"},
		{"published without its label", func(t *topology.Topology) {
			t.Networks = append(t.Networks, topology.Network{Name: "p", Published: true})
		}, "lacks the label"},
		{"client on the published network", func(t *topology.Topology) {
			t.Networks = append(t.Networks, topology.Network{Name: "p", Published: true, Labels: map[string]string{topology.LabelPublished: "true"}})
			t.Host("client").Networks = append(t.Host("client").Networks, "p")
		}, "only the server may join"},
		{"role with a capability", func(t *topology.Topology) { t.Node("server").Caps = []string{"NET_ADMIN"} }, "only agents may"},
		{"agent with SYS_ADMIN", func(t *topology.Topology) {
			t.Node("server-agent").Caps = append(t.Node("server-agent").Caps, "SYS_ADMIN")
		}, "agents get only"},
		{"agent without NET_ADMIN", func(t *topology.Topology) { t.Node("client-agent").Caps = nil }, "lacks NET_ADMIN"},
		{"role owns its namespace", func(t *topology.Topology) {
			t.Node("server-agent").Owner, t.Node("server").Owner = false, true
		}, "starts before the owner"},
		{"no owner", func(t *topology.Topology) { t.Nodes = t.Nodes[1:] }, "starts before the owner"},
		{"two owners", func(t *topology.Topology) { t.Node("server").Owner = true }, "second owner"},
		{"duplicate node", func(t *topology.Topology) { t.Nodes = append(t.Nodes, t.Nodes[3]) }, "declared twice"},
		{"unknown host", func(t *topology.Topology) { t.Node("client").Host = "elsewhere" }, "undeclared host"},
		{"unknown network", func(t *topology.Topology) { t.Host("server").Networks = []string{"nope"} }, "undeclared network"},
		{"host-wide sysctl", func(t *topology.Topology) { t.Host("server").Sysctls["kernel.pid_max"] = "1" }, "not per network namespace"},
		{"no client", func(t *topology.Topology) { t.Nodes = t.Nodes[:3] }, "0 client nodes"},
		{"no wait", func(t *topology.Topology) { t.Node("client").Wait = topology.Wait{} }, "has no wait"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top, err := topology.Plan(lookup(t, "dial-refused"), nil, topology.WithImage("tcplab:test"))
			require.NoError(t, err)
			tc.edit(top)
			err = top.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tc.wantErr)
			}
		})
	}
}

// The shape every run gets: an agent owns each namespace, holds NET_ADMIN
// (and NET_RAW only to capture) and starts first; the roles hold nothing;
// the sysctls are the namespace's, pinned, with the linear SYN timeouts off
// exactly where the kernel has them and no knob says otherwise.
func TestPlanShape(t *testing.T) {
	for _, tc := range []struct {
		name       string
		knobs      scenario.Knobs
		linear     bool
		capture    bool
		wantLinear map[string]string // host → value; absent: not set
	}{
		{"kernel without linear timeouts", nil, false, false, map[string]string{}},
		{"kernel with them", nil, true, false, map[string]string{"server": "0", "client": "0"}},
		{"a knob wins", scenario.Knobs{"client.tcp_syn_linear_timeouts": "4"}, true, false, map[string]string{"server": "0", "client": "4"}},
		{"capture", nil, true, true, map[string]string{"server": "0", "client": "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []topology.Option{topology.WithImage("tcplab:test"), topology.WithLinearSynTimeouts(tc.linear)}
			if tc.capture {
				opts = append(opts, topology.WithCapture("/tmp/c.pcap"))
			}
			top, err := topology.Plan(lookup(t, "backlog-syn-timeout"), tc.knobs, opts...)
			require.NoError(t, err)
			var names []string
			for _, n := range top.Nodes {
				names = append(names, fmt.Sprintf("%s@%s owner=%v caps=%v", n.Name, n.Host, n.Owner, n.Caps))
			}
			raw := ""
			if tc.capture {
				raw = " NET_RAW"
			}
			assert.Equal(t, []string{
				"server-agent@server owner=true caps=[NET_ADMIN" + raw + "]",
				"server@server owner=false caps=[]",
				"client-agent@client owner=true caps=[NET_ADMIN]",
				"client@client owner=false caps=[]",
			}, names)
			for _, n := range top.Networks {
				assert.True(t, n.Internal, "network %s", n.Name)
			}
			for _, h := range top.Hosts {
				v, set := h.Sysctls[topology.LinearSysctl]
				want, wantSet := tc.wantLinear[h.Name]
				assert.Equal(t, wantSet, set, "%s: %s set", h.Name, topology.LinearSysctl)
				assert.Equal(t, want, v, h.Name)
			}
			assert.Equal(t, "4096", top.Host("client").Sysctls["net.core.somaxconn"], "pinned")
			assert.Equal(t, "1", top.Host("server").Sysctls["net.core.somaxconn"], "the scenario's default")
			assert.Equal(t, tc.capture, top.Node("server-agent").Fetch != nil)
			assert.True(t, slices.Contains(top.Node("server-agent").Args, "-pcap") == tc.capture)
		})
	}
}

// Every registered scenario and case plans, with the names compose uses.
func TestEveryScenarioPlans(t *testing.T) {
	for _, sc := range scenarios.All() {
		cases := append([]scenario.Knobs{nil}, sc.Cases...)
		for i, k := range cases {
			top, err := topology.Plan(sc, k, topology.WithImage("tcplab:latest"), topology.WithName(fmt.Sprintf("%s-%d", sc.ID, i)))
			require.NoError(t, err, "%s case %d", sc.ID, i)
			c := top.ByRole(topology.Client)
			require.NotNil(t, c)
			assert.Equal(t, top.Host(top.ByRole(topology.Server).Host).Name, c.Args[3], "the client dials the server's host by name")
			assert.True(t, strings.HasPrefix(c.Name, sc.ID+"-"))
			// A scenario whose defaults impair the network (latency-dial's
			// impair.rtt) gets the impairment's budget on top.
			resolved, err := sc.Resolve(k)
			require.NoError(t, err)
			assert.Equal(t, sc.Timeout+resolved.Impairment().Budget()+30*time.Second, c.Wait.Timeout)
		}
	}
}

// A run of dial-refused on a kernel with linear SYN timeouts.
func ExamplePlan() {
	sc, _ := scenarios.Lookup("dial-refused")
	t, err := topology.Plan(sc, nil, topology.WithImage("tcplab:dev"), topology.WithLinearSynTimeouts(true))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range t.Networks {
		fmt.Printf("network %s internal=%v\n", n.Name, n.Internal)
	}
	for _, n := range t.Nodes {
		fmt.Printf("%-12s in %s owner=%-5v caps=%v %s\n", n.Name, n.Host, n.Owner, n.Caps, strings.Join(n.Args, " "))
	}
	fmt.Println("client sysctl", topology.LinearSysctl, "=", t.Host("client").Sysctls[topology.LinearSysctl])
	// Output:
	// network lab internal=true
	// server-agent in server owner=true  caps=[NET_ADMIN] agent -lifetime 1m20s
	// server       in server owner=false caps=[] serve dial-refused -lifetime 1m20s
	// client-agent in client owner=true  caps=[NET_ADMIN] agent -lifetime 1m20s
	// client       in client owner=false caps=[] client dial-refused -server server
	// client sysctl net.ipv4.tcp_syn_linear_timeouts = 0
}
