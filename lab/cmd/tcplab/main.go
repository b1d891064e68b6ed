// Command tcplab is the lab's one binary. In containers it is every role:
// a scenario's server behaviour, its client driver, the impairment agent and
// the compose report. On the host it lists scenarios.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/tcplab/tcplab/compose"
	"github.com/tcplab/tcplab/lab/egress"
	"github.com/tcplab/tcplab/lab/kernel"
	"github.com/tcplab/tcplab/lab/report"
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
  report -dir DIR FILE…             print the table of these results; exit 1 unless all passed
  report DIR… [--out DIR] [--strict]
                                    merge result sets (tcplab run --out, compose's results) from
                                    several machines: a column per platform, differences flagged
  compose [-pre-6.5]                print docker-compose.yml (or the file for kernels < 6.5)
  verdict                           say that every expectation held (compose runs it only then)
  probe                             print kernel facts as JSON
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
		list()
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		lifetime := fs.Duration("lifetime", 0, "exit after this long even without the client's quit (default: the scenario's timeout + 1m)")
		if len(args) == 0 {
			fail(2, "tcplab serve: which scenario?")
		}
		parseFlags(fs, args[1:])
		sc, k := scenarioArgs(cmd, append([]string{args[0]}, fs.Args()...))
		if *lifetime == 0 {
			*lifetime = sc.Timeout + time.Minute
		}
		if err := scenario.RunServer(sc, k, *lifetime); err != nil {
			fail(1, "tcplab serve: "+err.Error())
		}
	case "client":
		fs := flag.NewFlagSet("client", flag.ContinueOnError)
		server := fs.String("server", "server", "the server's host name")
		out := fs.String("out", "", "also write the result to this file")
		quiet := fs.Bool("quiet", false, "print one line of progress instead of the JSON result")
		gate := fs.Bool("gate", false, "print the gate line and wait for SIGUSR1 before running (the harness's pacing)")
		if len(args) == 0 {
			fail(2, "tcplab client: which scenario?")
		}
		parseFlags(fs, args[1:])
		sc, k := scenarioArgs(cmd, append([]string{args[0]}, fs.Args()...))
		if *out != "" {
			_ = os.Remove(*out) // a stale result must not stand in for this run's
		}
		if *gate {
			if err := scenario.WaitGate(); err != nil {
				fail(1, "tcplab client: "+err.Error())
			}
		}
		res := scenario.RunClient(sc, k, *server)
		b, _ := json.Marshal(res)
		if *quiet {
			verdict := "PASS"
			if !res.OK {
				verdict = "FAIL"
			}
			fmt.Fprintf(os.Stderr, "%s %s: %s%s\n", verdict, sc.ID, res.Headline, res.Error)
		} else {
			fmt.Println(string(b))
		}
		if *out != "" {
			if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
				fail(1, "tcplab client: "+err.Error())
			}
		}
	case "agent":
		fs := flag.NewFlagSet("agent", flag.ContinueOnError)
		pcapPath := fs.String("pcap", "", "capture the port under test's packets to this file (needs CAP_NET_RAW)")
		lifetime := fs.Duration("lifetime", 10*time.Minute, "exit after this long even without the client's quit")
		parseFlags(fs, args)
		if err := scenario.RunAgent(*lifetime, *pcapPath); err != nil {
			fail(1, "tcplab agent: "+err.Error())
		}
	case "report":
		if len(args) > 0 && args[0] != "-dir" && args[0] != "--dir" {
			mergeCmd(args) // tcplab report DIR…: merge result sets
			return
		}
		fs := flag.NewFlagSet("report", flag.ContinueOnError)
		dir := fs.String("dir", "/results", "directory of result files")
		parseFlags(fs, args)
		os.Exit(reportDir(*dir, fs.Args()))
	case "compose":
		fs := flag.NewFlagSet("compose", flag.ContinueOnError)
		pre65 := fs.Bool("pre-6.5", false, "for kernels without tcp_syn_linear_timeouts (compose/docker-compose.pre-6.5.yml)")
		parseFlags(fs, args)
		f := compose.Files[0]
		if *pre65 {
			f = compose.Files[1]
		}
		if err := compose.Write(os.Stdout, scenarios.All(), f); err != nil {
			fail(1, "tcplab compose: "+err.Error())
		}
	case "verdict":
		fmt.Println("tcplab: every expectation held")
	case "vminit":
		vm.Init()
	case "probe":
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

func fail(code int, msg string) {
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(code)
}

// scenarioArgs parses "SCENARIO KNOB=VALUE…".
func scenarioArgs(cmd string, args []string) (*scenario.Scenario, scenario.Knobs) {
	if len(args) == 0 {
		fail(2, "tcplab "+cmd+": which scenario?")
	}
	sc, err := scenarios.Lookup(args[0])
	if err != nil {
		fail(2, "tcplab "+cmd+": "+err.Error())
	}
	over := scenario.Knobs{}
	for _, a := range args[1:] {
		n, v, ok := strings.Cut(a, "=")
		if !ok {
			fail(2, fmt.Sprintf("tcplab %s: %q is not KNOB=VALUE", cmd, a))
		}
		over[n] = v
	}
	k, err := sc.Resolve(over)
	if err != nil {
		fail(2, "tcplab "+cmd+": "+err.Error())
	}
	return sc, k
}

func list() {
	for _, sc := range scenarios.All() {
		fmt.Printf("%-22s %s\n", sc.ID, sc.Title)
		for _, kn := range sc.Knobs {
			fmt.Printf("    %-28s default %-8s %s\n", kn.Name, kn.Default, kn.Help)
		}
	}
	fmt.Println("every scenario also accepts server.<sysctl>, client.<sysctl> and the network in between:")
	for _, kn := range scenario.ImpairKnobs {
		fmt.Printf("    %-28s default %-8s %s\n", kn.Name, kn.Default, kn.Help)
	}
}

// reportDir prints the report of the named result files in dir (all *.json
// when none are named) and writes report.{txt,json,md,html} beside them; a
// missing or failed result makes it return 1.
func reportDir(dir string, names []string) int {
	if len(names) == 0 {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, f := range files {
			if filepath.Base(f) != "report.json" {
				names = append(names, filepath.Base(f))
			}
		}
		sort.Strings(names)
	}
	rep := &report.Report{Schema: report.Schema, Finished: time.Now().UTC()}
	missing := 0
	for _, n := range names {
		r, err := readResult(filepath.Join(dir, n))
		if err != nil {
			fmt.Fprintf(os.Stderr, "tcplab report: %v\n", err)
			missing++
			continue
		}
		sc, _ := scenarios.Lookup(r.Scenario)
		set := scenario.Knobs{}
		if sc != nil { // the row shows the knobs that differ from the scenario's defaults
			defaults, _ := sc.Resolve(nil)
			for k, v := range r.Knobs {
				if defaults[k] != v {
					set[k] = v
				}
			}
		}
		rep.Rows = append(rep.Rows, report.NewRow(sc, set, nil, []*scenario.Result{r}))
		rep.Kernel, rep.Platform = r.Kernel, r.Platform
		if rep.Started.IsZero() || r.Started.Before(rep.Started) {
			rep.Started = r.Started
		}
	}
	var table strings.Builder
	if err := report.Terminal(&table, rep); err != nil {
		fmt.Fprintln(os.Stderr, "tcplab report:", err)
		return 1
	}
	fmt.Println()
	fmt.Print(table.String())
	// Kept beside the results: Compose 1.29 shows no logs when up fails.
	files := map[string]func(io.Writer, *report.Report) error{
		"report.json": report.JSON, "report.md": report.Markdown, "report.html": report.HTML,
	}
	_ = os.WriteFile(filepath.Join(dir, "report.txt"), []byte(table.String()), 0o644)
	for name, render := range files {
		var b strings.Builder
		if err := render(&b, rep); err == nil {
			_ = os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644)
		}
	}
	if _, failed := rep.Counts(); failed > 0 || missing > 0 || len(rep.Rows) == 0 {
		return 1
	}
	return 0
}

func readResult(path string) (*scenario.Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("no result %s (did its client run?)", filepath.Base(path))
	}
	var r scenario.Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Base(path), err)
	}
	return &r, nil
}

// parseFlags parses a role's flags; a bad flag is bad input (exit 2).
func parseFlags(fs *flag.FlagSet, args []string) {
	if err := fs.Parse(args); err != nil {
		fail(2, "tcplab "+fs.Name()+": "+err.Error())
	}
}
