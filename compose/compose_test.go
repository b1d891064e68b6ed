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

// The exclusive runs go one after another before anything else; the rest
// wait for them and then go in at most compose.Lanes chains.
func TestAfterRunsExclusiveAloneThenLanes(t *testing.T) {
	runs := compose.Runs(scenarios.All())
	after := compose.After(runs)
	var exclusive []string
	for _, r := range runs {
		if r.Scenario.Exclusive() {
			exclusive = append(exclusive, r.Name+"-client")
		}
	}
	require.NotEmpty(t, exclusive)
	lastExclusive := exclusive[len(exclusive)-1]
	heads := 0
	for _, r := range runs {
		deps := after[r.Name]
		if r.Scenario.Exclusive() {
			if r.Name+"-client" == exclusive[0] {
				assert.Empty(t, deps, "the first exclusive run waits for no client")
			} else {
				assert.Len(t, deps, 1, "%s follows one exclusive run", r.Name)
				assert.Contains(t, exclusive, deps[0])
			}
			continue
		}
		require.Len(t, deps, 1, "%s waits for one client", r.Name)
		if deps[0] == lastExclusive {
			heads++
		}
		// Following the chain back always reaches the last exclusive run.
		for c, n := deps[0], 0; c != lastExclusive; n++ {
			require.Less(t, n, len(runs), "%s: a cycle", r.Name)
			d := after[strings.TrimSuffix(c, "-client")]
			require.Len(t, d, 1, "%s's chain breaks at %s", r.Name, c)
			c = d[0]
		}
	}
	assert.Equal(t, compose.Lanes, heads, "lanes starting after the exclusive runs")
}
