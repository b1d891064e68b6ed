package compose_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/compose"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
	"github.com/tcplab/tcplab/lab/topology"
)

func generate(t *testing.T, f compose.File) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, compose.Write(&b, scenarios.All(), f))
	return b.String()
}

// Each committed compose file must be what the registry generates, or
// `docker compose up` would run other scenarios, or other settings, than
// the tests.
func TestComposeFilesAreCurrent(t *testing.T) {
	for _, f := range compose.Files {
		t.Run(f.Path, func(t *testing.T) {
			have, err := os.ReadFile(filepath.Join("..", f.Path))
			require.NoError(t, err)
			require.Equal(t, generate(t, f), string(have), "%s is stale: run `%s`", f.Path, f.Cmd)
		})
	}
}

// Every case of every scenario becomes the harness's topology: an agent
// owning each namespace with NET_ADMIN only, the roles in those namespaces
// with no capabilities, the client writing its result, in order.
func TestEveryCaseIsItsTopology(t *testing.T) {
	for _, f := range compose.Files {
		out := generate(t, f)
		blocks := services(out)
		for _, r := range compose.Runs(scenarios.All()) {
			svc := func(name string) string {
				b, ok := blocks[r.Name+"-"+name]
				require.True(t, ok, "%s: no service %s-%s", f.Path, r.Name, name)
				return b
			}
			for _, host := range []string{"server", "client"} {
				agent, role := svc(host+"-agent"), svc(host)
				assert.Contains(t, agent, "cap_drop: [ALL]")
				assert.Contains(t, agent, "cap_add: [NET_ADMIN]")
				assert.Contains(t, agent, `aliases: ["`+r.Name+"-"+host+`"]`)
				assert.Contains(t, agent, "net.core.somaxconn:", "the sysctls are on the namespace's owner")
				assert.Equal(t, f.Linear, strings.Contains(agent, topology.LinearSysctl+":"),
					"%s %s-agent: tcp_syn_linear_timeouts pinned exactly when the file is for kernels that have it", f.Path, host)
				assert.Contains(t, role, `network_mode: "service:`+r.Name+"-"+host+`-agent"`)
				assert.Contains(t, role, "cap_drop: [ALL]")
				assert.NotContains(t, role, "cap_add")
				assert.NotContains(t, role, "sysctls:")
			}
			assert.Contains(t, svc("client"), `"/results/`+r.Result+`"`)
			assert.Contains(t, svc("client"), f.Root+"/results:/results")
		}
		assert.Contains(t, out, "networks:\n  lab:\n    internal: true\n")
		assert.NotContains(t, out, "privileged")
	}
}

// services splits a compose file into its services' blocks, by name.
func services(out string) map[string]string {
	blocks := map[string]string{}
	name := ""
	for _, line := range strings.SplitAfter(out, "\n") {
		if strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   ") && strings.HasSuffix(line, ":\n") {
			name = strings.TrimSuffix(strings.TrimSpace(line), ":")
		} else if !strings.HasPrefix(line, " ") {
			name = ""
		}
		if name != "" {
			blocks[name] += line
		}
	}
	return blocks
}

// The README's scenario table lists every registered scenario.
func TestReadmeListsEveryScenario(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	for _, sc := range scenarios.All() {
		require.Contains(t, string(readme), "| "+sc.ID+" |", "README.md's scenario table lacks %s", sc.ID)
	}
}

// The Alone runs go one after another first, then the Quiet runs in
// compose.QuietChains chains, then the rest in compose.Lanes chains once
// every Quiet chain is done.
func TestAfterRunsAloneThenQuietChainsThenLanes(t *testing.T) {
	runs := compose.Runs(scenarios.All())
	after := compose.After(runs)
	byName := map[string]compose.Run{}
	var alone []string
	for _, r := range runs {
		byName[r.Name+"-client"] = r
		if r.Scenario.Load == scenario.Alone {
			alone = append(alone, r.Name+"-client")
		}
	}
	require.NotEmpty(t, alone)
	loadOf := func(client string) scenario.Load { return byName[client].Scenario.Load }
	quietHeads, laneHeads := 0, 0
	var quietEnds []string
	for _, r := range runs {
		deps := after[r.Name]
		switch r.Scenario.Load {
		case scenario.Alone:
			if r.Name+"-client" == alone[0] {
				assert.Empty(t, deps, "the first Alone run waits for no client")
			} else {
				require.Len(t, deps, 1)
				assert.Equal(t, scenario.Alone, loadOf(deps[0]), "%s follows an Alone run", r.Name)
			}
		case scenario.Quiet:
			require.Len(t, deps, 1, "%s waits for one client", r.Name)
			if deps[0] == alone[len(alone)-1] {
				quietHeads++
			} else {
				assert.Equal(t, scenario.Quiet, loadOf(deps[0]), "%s follows a Quiet run in its chain", r.Name)
			}
		default:
			require.NotEmpty(t, deps, "%s waits", r.Name)
			if len(deps) > 1 {
				laneHeads++
				if quietEnds == nil {
					quietEnds = deps
				}
				assert.Equal(t, quietEnds, deps, "every lane waits for the same Quiet chain ends")
				continue
			}
			assert.Equal(t, scenario.Neutral, loadOf(deps[0]), "%s follows a run of its lane", r.Name)
		}
	}
	assert.Equal(t, compose.QuietChains, quietHeads, "Quiet chains after the Alone runs")
	assert.Equal(t, compose.Lanes, laneHeads, "lanes after the Quiet chains")
	require.Len(t, quietEnds, compose.QuietChains)
	for _, c := range quietEnds {
		assert.Equal(t, scenario.Quiet, loadOf(c))
		for _, r := range runs {
			if r.Scenario.Load == scenario.Quiet {
				assert.NotContains(t, after[r.Name], c, "%s ends its chain", c)
			}
		}
	}
}
