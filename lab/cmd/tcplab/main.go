// Command tcplab is the lab's one binary. In containers it is every role:
// a scenario's server behaviour, its client driver, the impairment agent and
// the compose report. On the host it lists scenarios.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/kernel"
	"github.com/tcplab/tcplab/lab/report"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

const usage = `usage: tcplab COMMAND [ARGS]

  list                              scenarios and their knobs
  serve SCENARIO [KNOB=VALUE…]      a scenario's server (in the server container)
  client SCENARIO -server HOST [-out FILE] [KNOB=VALUE…]
                                    run a scenario's driver, print its JSON result
  agent                             the impairment agent (in the sidecar)
  report -dir DIR [-expect N]       print the table of the results in DIR
  health                            exit 0 once this container's role is ready
  probe                             print kernel facts as JSON`

func main() {
	if len(os.Args) < 2 {
		fail(2, usage)
	}
	cmd, args := os.Args[1], os.Args[2:]
	switch cmd {
	case "list":
		list()
	case "serve":
		sc, k := scenarioArgs(cmd, args)
		if err := scenario.RunServer(sc, k, sc.Timeout+time.Minute); err != nil {
			fail(1, "tcplab serve: "+err.Error())
		}
	case "client":
		fs := flag.NewFlagSet("client", flag.ExitOnError)
		server := fs.String("server", "server", "the server's host name")
		out := fs.String("out", "", "also write the result to this file")
		if len(args) == 0 {
			fail(2, "tcplab client: which scenario?")
		}
		fs.Parse(args[1:])
		sc, k := scenarioArgs(cmd, append([]string{args[0]}, fs.Args()...))
		res := scenario.RunClient(sc, k, *server)
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
		if *out != "" {
			if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
				fail(1, "tcplab client: "+err.Error())
			}
		}
	case "agent":
		if err := scenario.RunAgent(10 * time.Minute); err != nil {
			fail(1, "tcplab agent: "+err.Error())
		}
	case "report":
		fs := flag.NewFlagSet("report", flag.ExitOnError)
		dir := fs.String("dir", "/results", "directory of result files")
		expect := fs.Int("expect", 0, "how many results there must be")
		fs.Parse(args)
		os.Exit(reportDir(*dir, *expect))
	case "health":
		if _, err := os.Stat(scenario.ReadyFile); err != nil {
			os.Exit(1)
		}
	case "probe":
		_, linear := kernel.Sysctl("net.ipv4.tcp_syn_linear_timeouts")
		json.NewEncoder(os.Stdout).Encode(map[string]any{"kernel": kernel.Release(), "tcp_syn_linear_timeouts": linear})
	case "-h", "--help", "help":
		fmt.Println(usage)
	default:
		fail(2, fmt.Sprintf("tcplab: unknown command %q\n%s", cmd, usage))
	}
}

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
}

func reportDir(dir string, expect int) int {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	sort.Strings(files)
	var results []*scenario.Result
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "tcplab report:", err)
			return 1
		}
		var r scenario.Result
		if err := json.Unmarshal(b, &r); err != nil {
			fmt.Fprintf(os.Stderr, "tcplab report: %s: %v\n", f, err)
			return 1
		}
		results = append(results, &r)
	}
	fmt.Println()
	failed := report.Table(os.Stdout, results)
	if expect > 0 && len(results) != expect {
		fmt.Printf("expected %d results in %s, found %d\n", expect, dir, len(results))
		return 1
	}
	if failed > 0 || len(results) == 0 {
		return 1
	}
	return 0
}

var _ = errors.New
