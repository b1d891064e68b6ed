package compose_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
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
		for _, r := range allRuns(t) {
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
				for _, b := range []string{agent, role} {
					assert.Contains(t, b, fmt.Sprintf("ulimits: {nofile: %d, nproc: %d}", topology.MaxOpenFiles, topology.MaxProcs),
						"limits set, not Podman's defaults, which some hosts refuse")
				}
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

// allRuns is every run of the compose files.
func allRuns(t *testing.T) []compose.Run {
	t.Helper()
	rs, err := compose.Runs(scenarios.All())
	require.NoError(t, err)
	return rs
}

// loadOf is r's Load as the harness paces it (a run through the delay
// line is Quiet): the planner's, resolved once.
func loadOf(_ *testing.T, r compose.Run) scenario.Load { return r.Load }

// The Alone runs go one after another first, then the Quiet runs in
// compose.QuietChains chains, then the rest in compose.Lanes chains once
// every Quiet chain is done.
func TestAfterRunsAloneThenQuietChainsThenLanes(t *testing.T) {
	runs := allRuns(t)
	after := compose.After(runs)
	byName := map[string]compose.Run{}
	var alone []string
	for _, r := range runs {
		byName[r.Name+"-client"] = r
		if loadOf(t, r) == scenario.Alone {
			alone = append(alone, r.Name+"-client")
		}
	}
	require.NotEmpty(t, alone)
	clientLoad := func(client string) scenario.Load { return loadOf(t, byName[client]) }
	quietHeads, laneHeads := 0, 0
	var quietEnds []string
	for _, r := range runs {
		deps := after[r.Name]
		switch loadOf(t, r) {
		case scenario.Alone:
			if r.Name+"-client" == alone[0] {
				assert.Empty(t, deps, "the first Alone run waits for no client")
			} else {
				require.Len(t, deps, 1)
				assert.Equal(t, scenario.Alone, clientLoad(deps[0]), "%s follows an Alone run", r.Name)
			}
		case scenario.Quiet:
			require.Len(t, deps, 1, "%s waits for one client", r.Name)
			if deps[0] == alone[len(alone)-1] {
				quietHeads++
			} else {
				assert.Equal(t, scenario.Quiet, clientLoad(deps[0]), "%s follows a Quiet run in its chain", r.Name)
			}
		default:
			require.NotEmpty(t, deps, "%s waits", r.Name)
			if clientLoad(deps[0]) != scenario.Neutral {
				laneHeads++
				if quietEnds == nil {
					quietEnds = deps
				}
				assert.Equal(t, quietEnds, deps, "every lane waits for the same Quiet chain ends")
				continue
			}
			assert.Equal(t, scenario.Neutral, clientLoad(deps[0]), "%s follows a run of its lane", r.Name)
		}
	}
	assert.Equal(t, compose.QuietChains, quietHeads, "Quiet chains after the Alone runs")
	assert.Equal(t, compose.Lanes, laneHeads, "lanes after the Quiet chains")
	require.Len(t, quietEnds, compose.QuietChains)
	for _, c := range quietEnds {
		assert.Equal(t, scenario.Quiet, clientLoad(c))
		for _, r := range runs {
			if loadOf(t, r) == scenario.Quiet {
				assert.NotContains(t, after[r.Name], c, "%s ends its chain", c)
			}
		}
	}
}

// node is one service of a generated file as the simulation sees it.
type node struct {
	name string
	run  string        // the run it belongs to; "" for the report and verdict
	role topology.Role // "" for the report and verdict
	load scenario.Load
	deps map[string]string // depends_on: service → condition
	// What the simulation makes of it: it begins starting, is started,
	// exits (a client ends its measurement).
	begin, up, end  float64
	started, exited bool
}

// parse reads a generated file's services and what they wait for
// (depends_on, network_mode), and puts each in its run with its role.
func parse(t *testing.T, f compose.File, out string) map[string]*node {
	t.Helper()
	nodes := map[string]*node{}
	_, svcs, ok := strings.Cut(out, "\nservices:\n")
	require.True(t, ok)
	svcs, _, _ = strings.Cut(svcs, "\nnetworks:\n")
	for name, block := range services(svcs) {
		n := &node{name: name, deps: map[string]string{}}
		dep := ""
		for _, line := range strings.Split(block, "\n") {
			switch {
			case strings.HasPrefix(line, "      ") && !strings.HasPrefix(line, "       ") && strings.HasSuffix(line, ":"):
				dep = strings.TrimSuffix(strings.TrimSpace(line), ":")
			case strings.HasPrefix(line, "        condition: "):
				n.deps[dep] = strings.TrimPrefix(line, "        condition: ")
			}
		}
		// Compose starts the namespace's owner first, listed or not.
		if _, owner, ok := strings.Cut(block, `network_mode: "service:`); ok {
			owner, _, _ = strings.Cut(owner, `"`)
			if _, listed := n.deps[owner]; !listed {
				n.deps[owner] = compose.Started
			}
		}
		nodes[name] = n
	}
	for _, r := range allRuns(t) {
		tp, err := compose.Plan(r, f)
		require.NoError(t, err)
		for _, m := range tp.Nodes {
			n, ok := nodes[m.Name]
			require.True(t, ok, "no service %s", m.Name)
			n.run, n.role, n.load = r.Name, m.Role, loadOf(t, r)
		}
	}
	require.Contains(t, nodes, "report")
	require.Contains(t, nodes, "verdict")
	return nodes
}

// timing gives the simulation its durations: how long a container takes
// to start, and a client to measure.
type timing struct {
	name           string
	trials         int
	start, measure func() float64
}

// simulate runs a file as Compose does: a service starts once each
// dependency has started (service_started) or exited 0
// (service_completed_successfully); a run's servers and agents exit when
// its client does (it says quit): one that starts after that never ends.
func simulate(t *testing.T, nodes map[string]*node, tm timing) {
	t.Helper()
	names := make([]string, 0, len(nodes))
	for name, n := range nodes {
		require.Equal(t, n.name, name)
		for d, c := range n.deps {
			require.Contains(t, nodes, d, "%s depends on no service %s", name, d)
			require.Contains(t, []string{compose.Started, compose.Completed}, c, "%s: condition of %s", name, d)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	type event struct {
		at   float64
		name string
		up   bool // else it exits
	}
	var events []event
	now := 0.0
	ready := func(n *node) bool {
		for d, c := range n.deps {
			m := nodes[d]
			if !(m.started && m.up <= now) || (c == compose.Completed && !m.exited) {
				return false
			}
		}
		return true
	}
	for {
		for _, name := range names {
			if n := nodes[name]; !n.started && n.begin == 0 && ready(n) {
				n.begin = now + 1e-9 // 0 means not yet begun
				events = append(events, event{now + tm.start(), name, true})
			}
		}
		if len(events) == 0 {
			break
		}
		sort.SliceStable(events, func(i, j int) bool { return events[i].at < events[j].at })
		e := events[0]
		events = events[1:]
		now = e.at
		n := nodes[e.name]
		if e.up {
			n.started, n.up = true, now
			switch {
			case n.role == topology.Client:
				events = append(events, event{now + tm.measure(), n.name, false})
			case n.run == "":
				events = append(events, event{now + 0.5, n.name, false})
			}
			continue
		}
		n.exited, n.end = true, now
		if n.role == topology.Client {
			for _, m := range nodes {
				if m.run == n.run && m != n && m.started && !m.exited {
					m.exited, m.end = true, now
				}
			}
		}
	}
}

// The generated files' ordering, simulated with each timing: what must hold
// whatever the durations.
func TestStartOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	timings := []timing{
		{"lockstep", 1, func() float64 { return 1 }, func() float64 { return 1 }},
		{"random", 10, func() float64 { return 0.2 + 3*rng.Float64() }, func() float64 { return 0.5 + 20*rng.Float64() }},
		{"slow-start", 10, func() float64 { return 5 + 30*rng.Float64() }, func() float64 { return 0.5 + 5*rng.Float64() }},
	}
	early := func(n *node) bool { return n.run != "" && n.load != scenario.Neutral }
	setUp := func(n *node) bool { return n.run != "" && n.role != topology.Client }
	// starting says whether m's start-up overlaps n's measurement.
	starting := func(m, n *node) bool { return m.begin < n.end && m.up > n.up }
	checks := []struct {
		name  string
		check func(t *testing.T, nodes map[string]*node)
	}{
		{"every service starts, and ends", func(t *testing.T, nodes map[string]*node) {
			for _, n := range nodes {
				require.True(t, n.started, "%s never starts: its dependencies never hold", n.name)
				require.True(t, n.exited, "%s never ends: it started after its client had told it to", n.name)
			}
		}},
		{"at most compose.Lanes containers start at once", func(t *testing.T, nodes map[string]*node) {
			for _, n := range nodes {
				at, busy := n.begin, 0
				for _, m := range nodes {
					if m.begin <= at && at < m.up {
						busy++
					}
				}
				require.LessOrEqual(t, busy, compose.Lanes, "containers starting as %s begins to", n.name)
			}
		}},
		{"a client starts once every container of its run has", func(t *testing.T, nodes map[string]*node) {
			for _, n := range nodes {
				if n.role != topology.Client {
					continue
				}
				for _, m := range nodes {
					if m.run == n.run && m != n {
						require.Less(t, m.up, n.begin, "%s starts before %s has", n.name, m.name)
					}
				}
			}
		}},
		{"before the first client completes, only the Alone and Quiet runs' servers and agents and that client have started", func(t *testing.T, nodes map[string]*node) {
			first := math.Inf(1)
			for _, n := range nodes {
				if n.role == topology.Client {
					first = math.Min(first, n.end)
				}
			}
			for _, n := range nodes {
				if n.begin < first && (!early(n) || !setUp(n)) && (n.role != topology.Client || n.end != first) {
					t.Fatalf("%s starts at %.1f, before the first client completes (%.1f)", n.name, n.begin, first)
				}
			}
		}},
		{"an Alone measurement has no other container starting beside it", func(t *testing.T, nodes map[string]*node) {
			for _, n := range nodes {
				if n.role != topology.Client || n.load != scenario.Alone {
					continue
				}
				for _, m := range nodes {
					require.False(t, m != n && starting(m, n), "%s starts during %s", m.name, n.name)
				}
			}
		}},
		{"a Quiet measurement has no start-up beside it but other Quiet clients'", func(t *testing.T, nodes map[string]*node) {
			for _, n := range nodes {
				if n.role != topology.Client || n.load != scenario.Quiet {
					continue
				}
				for _, m := range nodes {
					if m.role == topology.Client && m.load == scenario.Quiet {
						continue
					}
					require.False(t, starting(m, n), "%s starts during %s", m.name, n.name)
				}
			}
		}},
		{"every other run holds containers only in its lane's turn: at most compose.Lanes at once", func(t *testing.T, nodes map[string]*node) {
			span := map[string][2]float64{} // a Neutral run's first start to its client's end
			for _, n := range nodes {
				if n.run == "" || early(n) {
					continue
				}
				s, ok := span[n.run]
				if !ok || n.begin < s[0] {
					s[0] = n.begin
				}
				if n.role == topology.Client {
					s[1] = n.end
				}
				span[n.run] = s
			}
			for run, s := range span {
				at, holding := s[0], 0
				for _, o := range span {
					if o[0] <= at && at < o[1] {
						holding++
					}
				}
				require.LessOrEqual(t, holding, compose.Lanes, "runs holding containers as %s starts", run)
			}
		}},
		{"the report starts once every client has completed, the verdict after it", func(t *testing.T, nodes map[string]*node) {
			for _, n := range nodes {
				if n.role == topology.Client {
					require.LessOrEqual(t, n.end, nodes["report"].begin, "%s completes after the report starts", n.name)
				}
			}
			require.LessOrEqual(t, nodes["report"].end, nodes["verdict"].begin)
		}},
	}
	type trace struct {
		name  string
		nodes map[string]*node
	}
	var traces []trace
	for _, f := range compose.Files {
		out := generate(t, f)
		for _, tm := range timings {
			for trial := range tm.trials {
				nodes := parse(t, f, out)
				simulate(t, nodes, tm)
				traces = append(traces, trace{fmt.Sprintf("%s, %s timing, trial %d", f.Path, tm.name, trial+1), nodes})
			}
		}
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, tr := range traces {
				if !t.Run(tr.name, func(t *testing.T) { c.check(t, tr.nodes) }) {
					return // one failing trace says enough
				}
			}
		})
	}
}

// Compose 1.29 expands each service's depends_on (and network_mode)
// recursively when it reads a file, with no memory of what it has seen: a
// file whose paths fork and join in every run takes millions of steps and
// minutes before anything starts (the file before the lanes took 94,000
// steps, about a second).
func TestCompose129WalksFewDependencyPaths(t *testing.T) {
	for _, f := range compose.Files {
		t.Run(f.Path, func(t *testing.T) {
			nodes := parse(t, f, generate(t, f))
			walks := map[string]int{}
			var walk func(string) int
			walk = func(name string) int {
				if w, ok := walks[name]; ok {
					return w
				}
				w := 1
				for d := range nodes[name].deps {
					w += walk(d)
				}
				walks[name] = w
				return w
			}
			total := 0
			for name := range nodes {
				total += walk(name)
			}
			assert.LessOrEqual(t, total, 200_000, "steps of Compose 1.29's walk")
		})
	}
}
