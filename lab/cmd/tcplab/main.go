// Command tcplab is the lab's one binary, so that what runs in the
// containers, in a VM and on the host is the same code at the same
// version. In containers it is every role: a scenario's server behaviour,
// its client driver, the impairment agent and the compose report; in a VM
// it is /init (vminit). On the host it lists scenarios, runs them in
// containers or on named kernels (run), removes what dead sessions left
// (clean) and merges result sets from several machines (report DIR…).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/tcplab/tcplab/compose"
	"github.com/tcplab/tcplab/lab/egress"
	"github.com/tcplab/tcplab/lab/kernel"
	"github.com/tcplab/tcplab/lab/report"
	"github.com/tcplab/tcplab/lab/runner"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
	"github.com/tcplab/tcplab/lab/vm"
)

const usage = `usage: tcplab COMMAND [ARGS]

  list                              scenarios and their knobs
  serve SCENARIO [-lifetime D] [KNOB=VALUE…]
                                    a scenario's server (in the server container)
  client SCENARIO -server HOST [-out FILE] [-quiet] [-gate] [KNOB=VALUE…]
                                    run a scenario's driver, print its JSON result
  agent [-pcap FILE] [-lifetime D]  the impairment agent (in the sidecar), optionally capturing
  sidecar serve|call …              the impairment agent beside a user's container (lab/netimpair)
  report -dir DIR [-again] FILE…    print the table of these results; exit 1 unless all passed or
                                    were LATE (-again: print the commands that measure LATE rows again)
  report DIR… [--out DIR] [--strict]
                                    merge result sets (tcplab run --out, compose's results) from
                                    several machines: a column per platform, differences flagged
  compose [-pre-6.5] [SCENARIO…]    print docker-compose.yml (or the file for kernels < 6.5;
                                    with scenarios, a file of those only)
  verdict                           say that every expectation held (compose runs it only then)
  probe                             print kernel facts as JSON
  reach -listen :PORT | -dial ADDR  the preflight's check that two containers on one network connect
  vminit                            a VM's /init: run the roles of /tcplab/vm.json (lab/vm)`

func main() {
	if os.Getpid() == 1 && len(os.Args) < 2 { // /init of a VM booted without "-- vminit"
		if _, err := os.Stat(vm.ConfigPath); err == nil { // not a container started with no command
			vm.Init()
		}
	}
	if len(os.Args) < 2 {
		fail(2, usage+hostUsage)
	}
	cmd, args := os.Args[1], os.Args[2:]
	switch cmd {
	case "list":
		noArgsOrFail(cmd, args)
		list()
	case "serve":
		a, err := parseServe(args)
		if err != nil {
			fail(2, "tcplab serve: "+err.Error())
		}
		if err := runner.Server(a.sc, a.knobs, a.lifetime); err != nil {
			fail(1, "tcplab serve: "+err.Error())
		}
	case "client":
		a, err := parseClient(args)
		if err != nil {
			fail(2, "tcplab client: "+err.Error())
		}
		if a.out != "" {
			_ = os.Remove(a.out) // a stale result must not stand in for this run's
		}
		if a.gate {
			if err := runner.WaitGate(); err != nil {
				fail(1, "tcplab client: "+err.Error())
			}
		}
		res := runner.Client(a.sc, a.knobs, a.server)
		b, _ := json.Marshal(res)
		if a.quiet {
			verdict := "PASS"
			if !res.OK {
				verdict = "FAIL"
			}
			fmt.Fprintf(os.Stderr, "%s %s: %s%s\n", verdict, a.sc.ID, res.Headline, res.Error)
		} else {
			fmt.Println(string(b))
		}
		if a.out != "" {
			if err := report.WriteFile(a.out, append(b, '\n')); err != nil {
				fail(1, "tcplab client: "+err.Error())
			}
		}
	case "agent":
		a, err := parseAgent(args)
		if err != nil {
			fail(2, "tcplab agent: "+err.Error())
		}
		if err := runner.Agent(a.lifetime, a.pcap); err != nil {
			fail(1, "tcplab agent: "+err.Error())
		}
	case "sidecar":
		sidecarCmd(args)
	case "report":
		if !isReportDir(args) {
			mergeCmd(args) // tcplab report DIR…: merge result sets
			return
		}
		a, err := parseReportDir(args)
		if err != nil {
			fail(2, "tcplab report: "+err.Error())
		}
		if a.again {
			os.Exit(printAgain(a.dir, a.names))
		}
		os.Exit(reportDir(a.dir, a.names))
	case "compose":
		pre65, picked, err := parseCompose(args)
		if err != nil {
			fail(2, "tcplab compose: "+err.Error())
		}
		f := compose.Files[0]
		if pre65 {
			f = compose.Files[1]
		}
		all := scenarios.All()
		if len(picked) > 0 {
			// A file of some scenarios only, beside the full one (its
			// paths are relative to that file's directory).
			all, f.Cmd = picked, "go run ./lab/cmd/tcplab compose "+strings.Join(args, " ")
		}
		if err := compose.Write(os.Stdout, all, f); err != nil {
			fail(1, "tcplab compose: "+err.Error())
		}
	case "verdict":
		noArgsOrFail(cmd, args)
		fmt.Println("tcplab: every expectation held")
	case "vminit":
		vm.Init()
	case "probe":
		noArgsOrFail(cmd, args)
		// The kernel's facts, and whether this namespace has a route out
		// (the preflight runs it with no network; TestInternalNetworkStillRoutes
		// on an internal network, without the agent's cut).
		probe := struct {
			kernel.Facts
			RouteOut string `json:"route_out"`
		}{kernel.Probe(runtime.GOARCH), egress.Probe()}
		if err := json.NewEncoder(os.Stdout).Encode(probe); err != nil {
			fail(1, "tcplab probe: "+err.Error())
		}
	case "reach":
		reachCmd(args)
	case "-h", "--help", "help":
		fmt.Println(usage + hostUsage)
	default:
		if run, ok := hostCommands[cmd]; ok {
			run(args)
			return
		}
		fail(2, fmt.Sprintf("tcplab: unknown command %q (see tcplab help)", cmd))
	}
}

// hostCommands are the commands that drive Docker (host.go); the lab image
// is built without them.
var (
	hostCommands = map[string]func(args []string){}
	hostUsage    string
)

// argChecks parse each command's arguments as the command itself does,
// running nothing: the docs test puts every command line of README.md and
// docs/ through them, so an example cannot name a flag, scenario or knob
// that does not exist. host.go adds run and clean.
var argChecks = map[string]func(args []string) error{
	"list":    noArgs,
	"verdict": noArgs,
	"probe":   noArgs,
	"reach":   func(args []string) error { _, err := parseReach(args); return err },
	"vminit":  func([]string) error { return nil }, // the kernel's command line: not the user's input
	"serve":   func(args []string) error { _, err := parseServe(args); return err },
	"client":  func(args []string) error { _, err := parseClient(args); return err },
	"agent":   func(args []string) error { _, err := parseAgent(args); return err },
	"sidecar": func(args []string) error { _, err := parseSidecar(args); return err },
	"compose": func(args []string) error { _, _, err := parseCompose(args); return err },
	"report": func(args []string) error {
		if isReportDir(args) {
			_, err := parseReportDir(args)
			return err
		}
		_, err := parseMerge(args)
		return err
	},
}

func noArgsOrFail(cmd string, args []string) {
	if err := noArgs(args); err != nil {
		fail(2, "tcplab "+cmd+": "+err.Error())
	}
}

func noArgs(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("takes no arguments, got %q", args)
	}
	return nil
}

// newFlags is a command's flag set: errors are returned, never printed,
// so bad input stays one line.
func newFlags(cmd string) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

type serveArgs struct {
	sc       *scenario.Scenario
	knobs    scenario.Knobs
	lifetime time.Duration
}

// parseServe parses "SCENARIO [-lifetime D] [KNOB=VALUE…]".
func parseServe(args []string) (*serveArgs, error) {
	fs := newFlags("serve")
	lifetime := fs.Duration("lifetime", 0, "exit after this long even without the client's quit (default: the scenario's timeout + 1m)")
	if len(args) == 0 {
		return nil, errors.New("which scenario?")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return nil, err
	}
	sc, k, err := parseScenarioArgs(append([]string{args[0]}, fs.Args()...))
	if err != nil {
		return nil, err
	}
	if *lifetime == 0 {
		*lifetime = sc.Timeout + time.Minute
	}
	return &serveArgs{sc, k, *lifetime}, nil
}

type clientArgs struct {
	sc          *scenario.Scenario
	knobs       scenario.Knobs
	server, out string
	quiet, gate bool
}

// parseClient parses "SCENARIO -server HOST [-out FILE] [-quiet] [-gate] [KNOB=VALUE…]".
func parseClient(args []string) (*clientArgs, error) {
	fs := newFlags("client")
	a := &clientArgs{}
	fs.StringVar(&a.server, "server", "server", "the server's host name")
	fs.StringVar(&a.out, "out", "", "also write the result to this file")
	fs.BoolVar(&a.quiet, "quiet", false, "print one line of progress instead of the JSON result")
	fs.BoolVar(&a.gate, "gate", false, "print the gate line and wait for SIGUSR1 before running (the harness's pacing)")
	if len(args) == 0 {
		return nil, errors.New("which scenario?")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return nil, err
	}
	var err error
	a.sc, a.knobs, err = parseScenarioArgs(append([]string{args[0]}, fs.Args()...))
	return a, err
}

type agentArgs struct {
	pcap     string
	lifetime time.Duration
}

// parseAgent parses "[-pcap FILE] [-lifetime D]".
func parseAgent(args []string) (*agentArgs, error) {
	fs := newFlags("agent")
	a := &agentArgs{}
	fs.StringVar(&a.pcap, "pcap", "", "capture the port under test's packets to this file (needs CAP_NET_RAW)")
	fs.DurationVar(&a.lifetime, "lifetime", 10*time.Minute, "exit after this long even without the client's quit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return a, noArgs(fs.Args())
}

// parseCompose parses "[-pre-6.5] [SCENARIO…]".
func parseCompose(args []string) (pre65 bool, picked []*scenario.Scenario, err error) {
	fs := newFlags("compose")
	fs.BoolVar(&pre65, "pre-6.5", false, "for kernels without tcp_syn_linear_timeouts (compose/docker-compose.pre-6.5.yml)")
	if err := fs.Parse(args); err != nil {
		return false, nil, err
	}
	for _, id := range fs.Args() {
		s, err := scenarios.Lookup(id)
		if err != nil {
			return false, nil, err
		}
		picked = append(picked, s)
	}
	return pre65, picked, nil
}

func fail(code int, msg string) {
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(code)
}

// parseScenarioArgs parses "SCENARIO KNOB=VALUE…".
func parseScenarioArgs(args []string) (*scenario.Scenario, scenario.Knobs, error) {
	if len(args) == 0 {
		return nil, nil, errors.New("which scenario?")
	}
	sc, err := scenarios.Lookup(args[0])
	if err != nil {
		return nil, nil, err
	}
	over := scenario.Knobs{}
	for _, a := range args[1:] {
		n, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, nil, fmt.Errorf("%q is not KNOB=VALUE", a)
		}
		over[n] = v
	}
	k, err := sc.Resolve(over)
	if err != nil {
		return nil, nil, err
	}
	return sc, k, nil
}

func list() {
	for _, sc := range scenarios.All() {
		fmt.Printf("%-22s %s\n", sc.ID, sc.Title)
		for _, kn := range sc.Knobs {
			fmt.Printf("    %-28s default %-8s %s\n", kn.Name, kn.Default, kn.Help)
		}
	}
	fmt.Println("every scenario also accepts server.<sysctl>, client.<sysctl>, the roles' limits and the network in between:")
	for _, kn := range append(scenario.LimitKnobs, scenario.ImpairKnobs...) {
		fmt.Printf("    %-28s default %-8s %s\n", kn.Name, kn.Default, kn.Help)
	}
}
