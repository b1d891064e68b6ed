// Package compose writes the compose files from the scenario registry, so
// `docker compose up` runs exactly the scenarios the tests run, with the same
// binary, knobs, sysctls and capabilities: each run is the topology the
// harness runs (lab/topology), rendered as services. The files are
// generated, never edited by hand:
//
//	go run ./lab/cmd/tcplab compose > docker-compose.yml
//	go run ./lab/cmd/tcplab compose -pre-6.5 > compose/docker-compose.pre-6.5.yml
package compose

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/planner"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/topology"
)

// File is one generated compose file. Compose cannot make a sysctl
// conditional and Docker refuses one the kernel lacks, so there is one file
// per kind of kernel.
type File struct {
	Path string // from the repository root
	// Root is the repository root as seen from the file's directory:
	// Compose resolves the build context and volumes from there.
	Root string
	// Linear: the kernel has tcp_syn_linear_timeouts (Linux ≥ 6.5), which
	// the file pins to 0 like the harness does.
	Linear bool
	Cmd    string // the command that writes it
}

// Files are the compose files the repository carries.
var Files = []File{
	{Path: "docker-compose.yml", Root: ".", Linear: true,
		Cmd: "go run ./lab/cmd/tcplab compose > docker-compose.yml"},
	{Path: "compose/docker-compose.pre-6.5.yml", Root: "..", Linear: false,
		Cmd: "go run ./lab/cmd/tcplab compose -pre-6.5 > compose/docker-compose.pre-6.5.yml"},
}

// Run is one row of the lab report: a scenario with one case's knobs,
// planned (its overrides in Set, resolved once in Knobs, its Load and
// Weight), and named.
type Run struct {
	planner.Row
	Name   string // service-name prefix, e.g. "backlog-full-2"
	Result string // file name under ./results
}

// Runs expands every scenario into its cases, in catalogue order
// (planner.Rows with no overrides), named as `tcplab run --out` names them.
func Runs(all []*scenario.Scenario) ([]Run, error) {
	rows, err := planner.Rows(all, nil, nil)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.Scenario.ID
	}
	out := make([]Run, len(rows))
	for i, name := range planner.Names(ids) {
		out[i] = Run{Row: rows[i], Name: name, Result: fmt.Sprintf("%02d-%s.json", i+1, name)}
	}
	return out, nil
}

// lifetime bounds a server or agent whose client never says quit. Those of
// the Alone and Quiet runs start before any of them measures and wait for
// every run before theirs, so it is long; each ends sooner, when its client
// says quit.
const lifetime = time.Hour

// Labels are on every service and the network.
var Labels = map[string]string{"tcplab": "1"}

// Image is the image every service runs. Its tag comes from
// $TCPLAB_IMAGE_TAG (default "latest"), so two checkouts on one daemon can
// build and run their own binaries side by side.
const Image = "tcplab:${TCPLAB_IMAGE_TAG:-latest}"

// Lanes is how many runs go at once, and so how many containers start at
// once in any phase: planner.Lanes, where the chains are made.
const Lanes = planner.Lanes

// Plan is the topology of one run as compose runs it.
func Plan(r Run, f File) (*topology.Topology, error) {
	return topology.PlanRow(r.Row, topology.WithImage(Image), topology.WithName(r.Name),
		topology.WithLinearSynTimeouts(f.Linear), topology.WithLifetime(lifetime),
		topology.WithResults(f.Root+"/results", r.Result), topology.WithLabels(Labels))
}

// QuietChains is how many chains the Quiet runs go in: planner.QuietChains.
const QuietChains = planner.QuietChains

// After says which clients each run waits for (to have completed), by
// name: planner.After's chains. First the Alone runs, one after another,
// the first once every server and agent of the Alone and Quiet runs has
// started, so no container start-up competes with its timers; then the
// Quiet runs in QuietChains chains side by side, beside no start-up but
// their own clients'; then, once all of those are done, the other runs in
// Lanes chains, the longest first. A run with no entry waits for no
// client. Dependencies renders it.
func After(runs []Run) map[string][]string {
	rows := make([]planner.Row, len(runs))
	for i, r := range runs {
		rows[i] = r.Row
	}
	after := map[string][]string{}
	for i, waits := range planner.After(rows) {
		for _, w := range waits {
			after[runs[i].Name] = append(after[runs[i].Name], runs[w].Name+"-client")
		}
	}
	return after
}

// Conditions of depends_on.
const (
	Started   = "service_started"
	Completed = "service_completed_successfully"
)

// Dependencies says what each service waits for (service → dependency →
// condition), so that no more than Lanes containers start at once and no
// start-up runs beside a timer-sensitive measurement. A run's nodes start
// one after another, each once the one before has started: its first
// node (its server's agent) waits for the run's turn, its client comes
// last. A run's turn:
//   - Alone and Quiet runs: their servers and agents start first, Lanes
//     runs at a time (each once those of the run Lanes before it have);
//     their clients then go in After's order, the first once all of them
//     have started.
//   - Every other run: when After's clients have completed (its lane has
//     reached it), so its containers start beside no Quiet measurement and
//     a lane holds one run's containers at a time.
//
// Each node waits for one node of its run, never for two that wait for
// each other: Compose 1.29 walks every path of depends_on (and
// network_mode) when it reads the file, and paths that fork and join
// multiply from run to run into millions. Compose v2 creates every
// container up front and gates only their starts; 1.29 creates each one
// when its turn comes.
func Dependencies(runs []Run, plans []*topology.Topology) map[string]map[string]string {
	after := After(runs)
	deps := map[string]map[string]string{}
	add := func(svc, dep, cond string) {
		if deps[svc] == nil {
			deps[svc] = map[string]string{}
		}
		deps[svc][dep] = cond
	}
	var early []string // the last server or agent of each Alone and Quiet run
	for i, r := range runs {
		t := plans[i]
		var last string // the server or agent that started last
		for j, n := range t.Nodes {
			if j > 0 {
				add(n.Name, t.Nodes[j-1].Name, Started)
			}
			if n.Role != topology.Client {
				last = n.Name
			}
		}
		gate, client := t.Nodes[0].Name, t.ByRole(topology.Client).Name
		if r.Load == scenario.Neutral {
			for _, c := range after[r.Name] {
				add(gate, c, Completed)
			}
			continue
		}
		if len(early) >= Lanes {
			add(gate, early[len(early)-Lanes], Started)
		}
		early = append(early, last)
		for _, c := range after[r.Name] {
			add(client, c, Completed)
		}
	}
	waited := map[string]bool{} // clients some run waits for
	for _, cs := range after {
		for _, c := range cs {
			waited[c] = true
		}
	}
	for i, r := range runs {
		client := plans[i].ByRole(topology.Client).Name
		// The head of the Alone runs, or of each Quiet chain if there is
		// none: once every early server and agent has started.
		if r.Load != scenario.Neutral && len(after[r.Name]) == 0 {
			for _, e := range early {
				add(client, e, Started)
			}
		}
		// The report waits for the clients that end the chains, each
		// after every client before it: Compose 1.29 asks the daemon
		// about every completed client it waits for, over and over, in
		// the loop that starts the services.
		if !waited[client] {
			add(Report, client, Completed)
		}
	}
	// Verdict starts only if the report exited 0, so `docker compose up`
	// exits non-zero when an expectation failed (Compose has no other way
	// to turn a container's exit code into up's without aborting the run).
	add(Verdict, Report, Completed)
	return deps
}

// The services after the runs.
const (
	Report  = "report"  // writes the report once every client has completed
	Verdict = "verdict" // says that every expectation held
)

// Write renders the compose file f: every run's topology as services,
// started in the order Dependencies gives, then the report.
func Write(w io.Writer, all []*scenario.Scenario, f File) error {
	runs, err := Runs(all)
	if err != nil {
		return err
	}
	var plans []*topology.Topology
	for _, r := range runs {
		t, err := Plan(r, f)
		if err != nil {
			return fmt.Errorf("%s: %w", r.Name, err)
		}
		plans = append(plans, t)
	}
	deps := Dependencies(runs, plans)
	p := &printer{w: w}
	p.line(0, "# Generated by `"+f.Cmd+"`: do not edit.")
	if f.Linear {
		p.line(0, "# For kernels with net.ipv4.tcp_syn_linear_timeouts (Linux >= 6.5, Docker Desktop),")
		p.line(0, "# which it pins to 0; older kernels: compose/docker-compose.pre-6.5.yml.")
	} else {
		p.line(0, "# For kernels before Linux 6.5 (no net.ipv4.tcp_syn_linear_timeouts, which Docker")
		p.line(0, "# would refuse): docker-compose -f compose/docker-compose.pre-6.5.yml up --build")
	}
	p.line(0, "# `docker compose up` (or Compose 1.29's `docker-compose up`) runs every scenario")
	p.line(0, "# between these containers and prints the report; results land in ./results.")
	// One service builds the image; every other one uses it and never pulls
	// it (it is built here, not published).
	p.line(0, "x-tcplab: &tcplab")
	p.line(1, "image: "+quote(Image))
	p.line(1, "pull_policy: never")
	p.line(1, "labels:")
	p.labels(2, Labels)
	p.line(0, "services:")
	var nets []topology.Network
	for i := range runs {
		t := plans[i]
		if nets == nil {
			nets = t.Networks
		}
		for j, n := range t.Nodes {
			p.service(n.Name)
			if i == 0 && j == 0 {
				p.line(2, "pull_policy: build")
				p.line(2, "build:")
				p.line(3, "context: "+f.Root)
				p.line(3, "dockerfile: images/tcplab/Dockerfile")
			}
			p.command(n.Args)
			if n.Owner {
				h := t.Host(n.Host)
				p.sysctls(h.Sysctls)
				// The host's name resolves to its owner, whose namespace
				// every node of the host shares.
				p.line(2, "networks:")
				for _, nw := range h.Networks {
					p.line(3, nw+":")
					p.line(4, "aliases: ["+quote(h.Name)+"]")
				}
			} else {
				p.line(2, fmt.Sprintf(`network_mode: "service:%s"`, t.Owner(n.Host).Name))
			}
			p.line(2, "cap_drop: [ALL]")
			p.line(2, fmt.Sprintf("ulimits: {nofile: %d, nproc: %d}", topology.MaxOpenFiles, topology.MaxProcs))
			if n.Memory > 0 {
				p.line(2, fmt.Sprintf("mem_limit: %d", n.Memory))
				p.line(2, fmt.Sprintf("memswap_limit: %d", n.Memory))
			}
			if len(n.Caps) > 0 {
				p.line(2, "cap_add: ["+strings.Join(n.Caps, ", ")+"]")
			}
			var vols []string
			for _, m := range n.Mounts {
				vols = append(vols, m.Source+":"+m.Target)
			}
			if len(vols) > 0 {
				p.line(2, "volumes: ["+strings.Join(vols, ", ")+"]")
			}
			// No healthchecks: a role opens its control port only when
			// ready (an agent once its routes are cut), and the client
			// waits on those ports.
			if len(deps[n.Name]) > 0 {
				p.depends(deps[n.Name])
			}
		}
	}
	p.service(Report)
	cmd := []string{"report", "-dir", topology.ResultsDir}
	for _, r := range runs {
		cmd = append(cmd, r.Result)
	}
	p.command(cmd)
	p.line(2, "network_mode: none")
	p.line(2, "cap_drop: [ALL]")
	p.line(2, "volumes: ["+f.Root+"/results"+":"+topology.ResultsDir+"]")
	p.depends(deps[Report])
	p.service(Verdict)
	p.command([]string{"verdict"})
	p.line(2, "network_mode: none")
	p.line(2, "cap_drop: [ALL]")
	p.depends(deps[Verdict])
	p.line(0, "networks:")
	for _, n := range nets {
		p.line(1, n.Name+":")
		// internal: Docker adds no NAT to the outside; the agents also
		// delete the default route it still gives each container.
		p.line(2, fmt.Sprintf("internal: %v", n.Internal))
		p.line(2, "labels:")
		p.labels(3, n.Labels)
	}
	return p.err
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) line(indent int, s string) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, "%s%s\n", strings.Repeat("  ", indent), s)
	}
}

func (p *printer) service(name string) {
	p.line(1, name+":")
	p.line(2, "<<: *tcplab")
}

func (p *printer) command(args []string) {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = quote(a)
	}
	p.line(2, "command: ["+strings.Join(q, ", ")+"]")
}

func (p *printer) labels(indent int, l map[string]string) {
	for _, k := range sortedKeys(l) {
		p.line(indent, k+": "+quote(l[k]))
	}
}

func (p *printer) sysctls(s map[string]string) {
	if len(s) == 0 {
		return
	}
	p.line(2, "sysctls:")
	for _, k := range sortedKeys(s) {
		p.line(3, k+": "+quote(s[k]))
	}
}

func (p *printer) depends(deps map[string]string) {
	p.line(2, "depends_on:")
	for _, k := range sortedKeys(deps) {
		p.line(3, k+":")
		p.line(4, "condition: "+deps[k])
	}
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
