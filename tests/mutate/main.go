// Command mutate proves that the lab's tests can fail: it copies the source
// tree to temporary directories, applies one deliberate breakage to a copy
// (a source rewrite, never a switch in the product's code), runs the tests
// that should catch it, and exits non-zero if any breakage survives. Two
// breakages are tried at a time, each in its own copy: their container
// tests meet on one machine as go test's packages do, and the harness's
// machine-wide gate keeps either's container work out of the other's
// measurements.
//
//	go run ./tests/mutate               # every breakage
//	go run ./tests/mutate -parallel 1   # one at a time
//	go run ./tests/mutate -list         # what they are
//	go run ./tests/mutate -only nodelay-inverted
//	go run ./tests/mutate -baseline     # the tests they use pass unbroken
//	go run ./tests/mutate -check        # each text occurs once (no tests run)
//
// A breakage whose text is no longer found, or whose rewrite no longer
// compiles, is an error too: the list must follow the code. So is a -run
// pattern that runs no test.
//
// The Docker tests in ./tests rebuild the lab's image for every breakage
// of the lab's code (its source changed), so each names the narrowest
// pattern that catches it; breakages of verdicts and of what is planned
// before anything starts are caught by tests without Docker (pkg).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// mutation is one deliberate breakage: in file, old (which must occur
// exactly once) becomes new; tests (a -run pattern for pkg, ./tests/ when
// empty) must fail.
type mutation struct {
	name, why string
	file      string
	old, new  string
	pkg       string
	tests     string
}

// testPkg is the package whose tests must catch m.
func (m mutation) testPkg() string {
	if m.pkg == "" {
		return "./tests/"
	}
	return m.pkg
}

// Breakages known to survive, left out until a check can catch them (the
// lead is told; a breakage is never weakened to pass):
//
//   - jitter-doubled: the delay line's jitter doubled (delayline_linux.go,
//     "* float64(p.jitter))" → "* float64(2*p.jitter))") passes
//     TestImpairLossJitter: NetworkVerdicts bounds the round trips' spread
//     from below only, and p99 ≤ RTT + jitter + 10 % + 6 ms still admits
//     RTT ± 2·jitter at 20 ± 10 ms.
//   - read-deadline-doubled: read-timeout's 10 µs deadline doubled passes:
//     the idle Read is allowed 250 ms of scheduling (idleSlack), and the
//     race's split is reported, not judged.
//   - mechanism-knob-ignored: impair.mechanism never reaching the agents
//     (network.go, "mech := im.Mechanism" → "mech := impair.Auto") is run
//     by no test: none sets impair.mechanism to a valid value.
//   - count-low-unchecked: Count without its lower bound (verdict.go,
//     "k >= lo && k <= hi," → "k <= hi,") passes TestSensitivity: dial-lossy
//     derives its counts from durations, which no ×2/×0.5 moves between
//     slots, and every recorded result with a binomial count of its own
//     (loss-retransmit) or the network's fails the test as recorded.
var mutations = []mutation{
	{
		name: "backlog-accepts", why: "the backlog-full server accepts every connection",
		file: "lab/scenarios/backlog_full.go",
		old:  "Server: neverAccept,", new: "Server: acceptAll,",
		tests: "^TestBacklogFull$",
	},
	{
		name: "dial-deadline-ignored", why: "DialTimeout's deadline is ignored (plain Dial)",
		file: "lab/scenarios/dial_timeout.go",
		old:  `c, err := net.DialTimeout("tcp", e.Addr(), t)`, new: `c, err := net.Dial("tcp", e.Addr())`,
		tests: "^TestDialTimeout$",
	},
	{
		name: "read-deadline-unset", why: "read-timeout's trial deadline is not set (an older one applies)",
		file:  "lab/scenarios/read_timeout.go",
		old:   "if err := c.SetReadDeadline(time.Now().Add(dl)); err != nil { // the idle Read's",
		new:   "if err := error(nil); err != nil {",
		tests: "^TestReadTimeout$",
	},
	{
		name: "write-deadline-unset", why: "the writer never sets its write deadline",
		file: "lab/scenarios/writer.go",
		old:  "if perWrite > 0 {", new: "if perWrite < 0 {",
		tests: "^TestWriteTimeout$",
	},
	{
		name: "nodelay-inverted", why: "SetNoDelay is given the opposite value",
		file: "lab/scenarios/opt_nodelay.go",
		old:  "c.SetNoDelay(nd)", new: "c.SetNoDelay(!nd)",
		tests: "^TestOptNoDelay$",
	},
	{
		name: "closewrite-closes", why: "CloseWrite becomes Close",
		file: "lab/scenarios/close_half.go",
		old:  "c.CloseWrite()", new: "c.Close()",
		tests: "^TestCloseHalf$",
	},
	{
		name: "proxy-hold-short", why: "proxy-backlog's reads stop at the backend dial's give-up, before the proxy's close arrives",
		file: "lab/scenarios/proxy_backlog.go",
		old:  "return tcpmodel.LateBound(giveUp, 1.0/8, 250*time.Millisecond) + time.Second", new: "return giveUp",
		tests: "^TestProxyBacklog$",
	},
	{
		name: "published-mechanism-mislabelled", why: "a host port where docker-proxy accepted every dial is called iptables DNAT",
		file: "lab/scenarios/proxy_refused.go",
		old:  "case ok == len(cs):\n\t\treturn viaDockerProxy", new: "case ok == len(cs):\n\t\treturn viaDNAT",
		tests: "^TestProxyRefused$",
	},
	// Sysctls: the pinned values, and how a host's sysctls reach its
	// namespace (plan, harness, compose).
	{
		name: "pin-syn-retries", why: "the pinned tcp_syn_retries is 1, not 6: blocked dials give up at 3 s",
		file: "lab/scenario/knobs.go",
		old:  `"tcp_syn_retries": "6",`, new: `"tcp_syn_retries": "1",`,
		tests: "^TestBacklogSlowAccept$",
	},
	{
		name: "pin-somaxconn", why: "the pinned somaxconn is 8, not 4096",
		file: "lab/scenario/knobs.go",
		old:  `"somaxconn":       "4096",`, new: `"somaxconn":       "8",`,
		pkg: "./lab/topology", tests: "^TestPlanShape$",
	},
	{
		name: "pin-rmem", why: "the pinned tcp_rmem caps autotuning at 128 KiB",
		file: "lab/scenario/knobs.go",
		old:  `"tcp_rmem":        "4096 131072 6291456",`, new: `"tcp_rmem":        "4096 131072 131072",`,
		pkg: "./lab/scenario", tests: "^TestResolveKnobs$",
	},
	{
		name: "pin-wmem", why: "the pinned tcp_wmem's maximum is doubled",
		file: "lab/scenario/knobs.go",
		old:  `"tcp_wmem":        "4096 16384 4194304",`, new: `"tcp_wmem":        "4096 16384 8388608",`,
		pkg: "./lab/scenario", tests: "^TestResolveKnobs$",
	},
	{
		name: "linear-pin-inverted", why: "tcp_syn_linear_timeouts=0 is pinned only where the kernel lacks it",
		file: "lab/topology/plan.go",
		old:  "c.linear && !set {", new: "!c.linear && !set {",
		tests: "^TestBacklogSynTimeout$/tcp_syn_retries=1$",
	},
	{
		name: "sysctls-role-swapped", why: "the client's namespace gets the server's sysctls",
		file: "lab/scenario/knobs.go",
		old:  `prefix := string(role) + "."`, new: `prefix := string(Server) + "."`,
		pkg: "./lab/topology", tests: "^TestPlanShape$",
	},
	{
		name: "owner-sysctls-dropped", why: "the harness starts a namespace's owner without the host's sysctls",
		file: "lab/harness/topology.go",
		old:  "sysctls = r.t.Host(n.Host).Sysctls", new: "sysctls = nil",
		tests: "^TestBacklogFull$/somaxconn=16$",
	},
	{
		name: "hostconfig-sysctls-dropped", why: "hostConfig never sets a container's sysctls",
		file: "lab/harness/hostconfig.go",
		old:  "hc.Sysctls = sysctls", new: "hc.Sysctls = nil",
		tests: "^TestDialRefused$",
	},
	{
		name: "compose-sysctls-dropped", why: "the compose files carry no sysctls",
		file: "compose/compose.go",
		old:  "p.sysctls(h.Sysctls)", new: "p.sysctls(nil)",
		pkg: "./compose", tests: "^TestEveryCaseIsItsTopology$",
	},

	// impair.*: what the client asks of the agents, and what they do.
	{
		name: "rtt-doubled", why: "each side holds the whole RTT, not half",
		file: "lab/runner/network.go",
		old:  "Delay: im.RTT / 2,", new: "Delay: im.RTT,",
		tests: "^TestImpairRTT$/read-partial",
	},
	{
		name: "delayline-no-hold", why: "the delay line releases each packet as it arrives",
		file: "lab/impair/delayline_linux.go",
		old:  "due := arrived.Add(max(d, 0))", new: "due := arrived",
		tests: "^TestImpairRTT$/read-partial",
	},
	{
		name: "jitter-ignored", why: "the agents are never asked for jitter",
		file: "lab/runner/network.go",
		old:  "Jitter: im.Jitter / 2,", new: "Jitter: 0,",
		tests: "^TestImpairLossJitter$/delay_line_jitter$",
	},
	{
		name: "jitter-doubled", why: "each side holds ± the whole jitter, not half of it",
		file: "lab/runner/network.go",
		old:  "Jitter: im.Jitter / 2,", new: "Jitter: im.Jitter,",
		tests: "^TestImpairLossJitter$/delay_line_jitter$",
	},
	{
		name: "loss-ignored", why: "the agents are never asked for loss",
		file: "lab/runner/network.go",
		old:  "Loss: im.Loss, Mechanism: mech,", new: "Loss: 0, Mechanism: mech,",
		tests: "^TestImpairLossJitter$/delay_line_loss$",
	},
	{
		name: "loss-doubled-line", why: "the delay line drops twice impair.loss",
		file: "lab/impair/delayline_linux.go",
		old:  "rand.Float64() < p.loss {", new: "rand.Float64() < 2*p.loss {",
		tests: "^TestImpairLossJitter$/delay_line_loss$",
	},
	{
		name: "loss-doubled-nft", why: "the nf_tables random rule drops twice the asked share",
		file: "lab/impair/nft_linux.go",
		old:  "uint32(f*1000 + 0.5)", new: "uint32(f*2000 + 0.5)",
		tests: "^TestImpairLossJitter$/nftables$",
	},
	{
		name: "rate-halved", why: "the agents are asked for half impair.rate",
		file: "lab/runner/network.go",
		old:  "Mechanism: mech, RateKbit: im.RateKbit}", new: "Mechanism: mech, RateKbit: im.RateKbit / 2}",
		tests: "^TestImpairRate$",
	},
	{
		name: "tbf-rate-doubled", why: "TBF's rate is twice the kbit/s asked",
		file: "lab/impair/qdisc_linux.go",
		old:  "rate := uint64(kbit) * 1000 / 8 // bytes/s", new: "rate := uint64(kbit) * 1000 / 4 // bytes/s",
		tests: "^TestImpairRate$",
	},
	{
		name: "mechanism-auto-inverted", why: "impair.mechanism=auto picks netem where the kernel lacks it",
		file: "lab/impair/agent_linux.go",
		old:  "m = DelayLine\n\t\tif NetemAvailable() {", new: "m = DelayLine\n\t\tif !NetemAvailable() {",
		tests: "^TestImpairRTT$/read-partial",
	},

	{
		name: "rtt-parse-doubled", why: "impair.rtt is read as twice its value (applied and judged alike)",
		file: "lab/scenario/knobs.go",
		old:  `im.RTT = k.Duration("impair.rtt")`, new: `im.RTT = 2 * k.Duration("impair.rtt")`,
		pkg: "./lab/scenario", tests: "^TestImpairKnobs$",
	},

	// Durations: the scenario's timeout as the client applies it.
	{
		name: "scenario-timeout-ignored", why: "the client's context ignores the scenario's Timeout",
		file:  "lab/runner/client.go",
		old:   "context.WithTimeout(context.Background(), sc.Timeout+k.Impairment().Budget())",
		new:   "context.WithTimeout(context.Background(), k.Impairment().Budget())",
		tests: "^TestDialRefused$",
	},

	{
		name: "syn-giveup-doubled", why: "the model of tcp_syn_retries gives up one back-off later",
		file: "lab/tcpmodel/tcpmodel.go",
		old:  "time.Duration((1<<(retries+1))-1) * time.Second", new: "time.Duration((1<<(retries+2))-1) * time.Second",
		pkg: "./lab/tcpmodel", tests: "^TestSynSchedule$",
	},

	// Scenario drivers: a deadline or duration they apply, doubled or
	// ignored.
	{
		name: "read-no-data-delay-doubled", why: "read-no-data's server stays silent twice server.delay",
		file: "lab/scenarios/read_no_data.go",
		old:  `time.Sleep(s.Knobs.Duration("server.delay"))`, new: `time.Sleep(2 * s.Knobs.Duration("server.delay"))`,
		tests: "^TestReadNoData$",
	},
	{
		name: "read-partial-delay-ignored", why: "read-partial's server sends at once, ignoring server.delay",
		file: "lab/scenarios/read_partial.go",
		old:  `time.Sleep(s.Knobs.Duration("server.delay"))`, new: `time.Sleep(0 * s.Knobs.Duration("server.delay"))`,
		tests: "^TestReadPartial$",
	},
	{
		name: "dial-timeout-doubled", why: "dial-timeout dials with twice client.dial_timeout",
		file: "lab/scenarios/dial_timeout.go",
		old:  `c, err := net.DialTimeout("tcp", e.Addr(), t)`, new: `c, err := net.DialTimeout("tcp", e.Addr(), 2*t)`,
		tests: "^TestDialTimeout$",
	},
	{
		name: "ka-idle-doubled", why: "opt-keepalive's dialer idles twice client.ka_idle",
		file: "lab/scenarios/opt_keepalive.go",
		old:  "Enable: true, Idle: idle,", new: "Enable: true, Idle: 2 * idle,",
		tests: "^TestOptKeepAlive$",
	},
	{
		name: "ka-interval-ignored", why: "opt-keepalive's dialer ignores client.ka_interval (Go's 15 s)",
		file: "lab/scenarios/opt_keepalive.go",
		old:  "Interval: interval, Count: count}}", new: "Interval: 0, Count: count}}",
		tests: "^TestOptKeepAlive$",
	},
	{
		name: "linger-unset", why: "opt-linger's server never sets SetLinger(0)",
		file: "lab/scenarios/opt_linger.go",
		old:  "SetLinger(0))", new: "SetLinger(-1))",
		tests: "^TestOptLinger$",
	},
	{
		name: "write-deadline-doubled", why: "the writer's deadline is twice client.write_deadline",
		file: "lab/scenarios/writer.go",
		old:  "c.SetWriteDeadline(start.Add(perWrite))", new: "c.SetWriteDeadline(start.Add(2 * perWrite))",
		tests: "^TestWriteTimeout$/200ms",
	},
	{
		name: "syn-loss-halved", why: "dial-lossy's agent drops half impair.syn_loss of the SYNs",
		file: "lab/scenarios/dial_lossy.go",
		old:  "impair.Spec{DropSYN: p}", new: "impair.Spec{DropSYN: p / 2}",
		tests: "^TestDialLossy$",
	},
	{
		name: "accept-every-doubled", why: "the slow-accept server accepts every 2×server.accept_every",
		file: "lab/scenarios/servers.go",
		old:  "t := time.NewTicker(every)", new: "t := time.NewTicker(2 * every)",
		tests: "^TestBacklogSlowAccept$",
	},

	// Verdicts loosened on purpose: the sensitivity test, which doubles
	// and halves every recorded figure, must notice (no Docker).
	{
		name: "timely-early-unchecked", why: "TimelyAll no longer fails a time before its deadline",
		file: "lab/scenario/verdict.go",
		old:  "lo >= want && med <= late,", new: "med <= late,",
		pkg: "./lab/scenarios", tests: "^TestSensitivity$/^write-timeout$",
	},
	{
		name: "write-timeout-late-loose", why: "write-timeout's Write may return at twice its deadline",
		file: "lab/scenarios/write_timeout.go",
		old:  "took, dl, 0.1, 20*time.Millisecond)", new: "took, dl, 1, 20*time.Millisecond)",
		pkg: "./lab/scenarios", tests: "^TestSensitivity$/^write-timeout$",
	},
	{
		name: "ontime-early-unchecked", why: "OnTime (Timely's test) no longer fails a time before its want",
		file: "lab/tcpmodel/tcpmodel.go",
		old:  "return got >= want && got <= LateBound(want, lateFrac, slack)", new: "return got <= LateBound(want, lateFrac, slack)",
		pkg: "./lab/scenarios", tests: "^TestSensitivity$/^read-no-data$",
	},
	{
		name: "write-timeout-count-loose", why: "write-timeout's kernel count need only be at least Writes×chunk+n",
		file: "lab/scenarios/write_timeout.go",
		old:  "t.Writes*chunk+t.N == t.Accepted", new: "t.Writes*chunk+t.N <= t.Accepted",
		pkg: "./lab/scenarios", tests: "^TestSensitivity$/^write-timeout$",
	},
	{
		name: "build-outlives-tcplab", why: "the lab binary's go build is not killed with a killed tcplab",
		file: "lab/harness/binary.go",
		old:  "\t\tdieWithParent(build)\n", new: "\n",
		tests: "^TestKilledBeforeTheRun$/^then_clean$",
	},
	{
		name: "scratch-not-swept", why: "tcplab clean leaves the build directories of killed runs",
		file: "lab/harness/cleanup.go",
		old:  "rep.Scratch = SweepScratch()", new: "rep.Scratch = 0",
		tests: "^TestKilledBeforeTheRun$/^then_clean$",
	},
	{
		name: "netem-lack-unseen", why: "a row asking for netem on a kernel without sch_netem is not refused before it runs",
		file: "lab/harness/preflight.go",
		old:  `case im.Mechanism == "netem" && !m.Netem:`, new: `case im.Mechanism == "netem" && m.Netem:`,
		tests: "^TestHostCannotRun$",
	},
	{
		name: "sidecar-flags-ignored", why: "the sidecar service of compose/impair-sidecar.yml never applies its flags",
		file: "lab/cmd/tcplab/sidecar.go",
		old:  "\tif a.start != nil {\n", new: "\tif a.start != nil && false {\n",
		tests: "^TestComposeSidecar$",
	},
	{
		name: "peers-unmatched", why: "the delay line's rules ignore Peers (every source is delayed)",
		file: "lab/impair/queue_linux.go",
		old:  "from = append(from, saddr(a))", new: "from = append(from, saddr(a)[:0])",
		pkg: "./lab/netimpair", tests: "^TestPeers$",
	},
	{
		name: "lossout-halved", why: "LossOut drops half the fraction asked",
		file: "lab/impair/lossout_linux.go",
		old:  "random(fraction)", new: "random(fraction/2)",
		pkg: "./lab/netimpair", tests: "^TestLossOut$",
	},
}

func main() {
	list := flag.Bool("list", false, "list the breakages and exit")
	only := flag.String("only", "", "run only the breakages with these names (comma-separated)")
	baseline := flag.Bool("baseline", false, "run each breakage's tests on the unbroken tree instead: they must pass")
	check := flag.Bool("check", false, "check that every breakage's text occurs exactly once, and exit")
	perTest := flag.Duration("timeout", 5*time.Minute, "bound of each mutated test run")
	parallel := flag.Int("parallel", 2, "breakages tried at a time, each in its own copy of the tree")
	flag.Parse()
	if *list {
		for _, m := range mutations {
			fmt.Printf("%-26s %s (%s; caught by %s %s)\n", m.name, m.why, m.file, m.testPkg(), m.tests)
		}
		return
	}
	if *check {
		if err := checkList(); err != nil {
			fmt.Fprintln(os.Stderr, "mutate:", err)
			os.Exit(1)
		}
		fmt.Printf("%d breakages, each text found once\n", len(mutations))
		return
	}
	if err := run(*only, *baseline, *perTest, *parallel); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(1)
	}
}

func run(only string, baseline bool, perTest time.Duration, parallel int) error {
	root, err := gitRoot()
	if err != nil {
		return err
	}
	var todo []mutation
	want := map[string]bool{}
	for n := range strings.SplitSeq(only, ",") {
		if n != "" {
			want[n] = true
		}
	}
	for _, m := range mutations {
		if len(want) == 0 || want[m.name] {
			todo = append(todo, m)
		}
	}
	if len(todo) == 0 || (len(want) > 0 && len(todo) != len(want)) {
		return fmt.Errorf("-only %q: some name is no breakage (see -list)", only)
	}
	if parallel < 1 {
		return fmt.Errorf("-parallel %d: want at least 1", parallel)
	}
	if parallel > 1 {
		todo = quickFirst(todo)
	}
	// One copy of the tree per worker: a breakage lives in its copy only
	// while its tests run.
	dirs := make([]string, min(parallel, len(todo)))
	for i := range dirs {
		tmp, err := os.MkdirTemp("", "tcplab-mutate-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if err := copyTree(root, tmp); err != nil {
			return err
		}
		dirs[i] = tmp
	}
	t0 := time.Now()
	if baseline {
		return runBaseline(dirs, todo, perTest)
	}
	var (
		mu       sync.Mutex
		survived []string
	)
	err = pool(dirs, len(todo), func(dir string, i int) error {
		m := todo[i]
		start := time.Now()
		caught, detail, err := try(dir, m, perTest)
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		mu.Lock()
		defer mu.Unlock()
		verdict := "caught"
		if !caught {
			verdict = "SURVIVED"
			survived = append(survived, m.name)
		}
		fmt.Printf("%-8s %-26s %-70s %5.0fs  %s\n", verdict, m.name, m.why, time.Since(start).Seconds(), detail)
		return nil
	})
	if err != nil {
		return err
	}
	if len(survived) > 0 {
		return fmt.Errorf("%d of %d breakages survived: %s", len(survived), len(todo), strings.Join(survived, ", "))
	}
	fmt.Printf("all %d breakages caught in %v (%d at a time)\n", len(todo), time.Since(t0).Round(time.Second), len(dirs))
	return nil
}

// quickFirst moves the breakages whose tests start no container to just
// after the first: they run beside its container tests instead of
// waiting, as the others do, while its measurements hold the machine.
func quickFirst(todo []mutation) []mutation {
	if len(todo) < 2 {
		return todo
	}
	var quick, rest []mutation
	for _, m := range todo[1:] {
		if m.pkg != "" && m.pkg != "./lab/netimpair" && m.pkg != "./lab/harness" {
			quick = append(quick, m)
		} else {
			rest = append(rest, m)
		}
	}
	return append(append([]mutation{todo[0]}, quick...), rest...)
}

// pool runs job(dir, i) for i in [0, n), one job per directory at a time,
// in order of i; it stops handing out jobs at the first error, which it
// returns once the running ones end.
func pool(dirs []string, n int, job func(dir string, i int) error) error {
	var (
		mu   sync.Mutex
		next int
		errs []error
		wg   sync.WaitGroup
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= n || len(errs) > 0 {
			return 0, false
		}
		next++
		return next - 1, true
	}
	for _, dir := range dirs {
		wg.Go(func() {
			for i, ok := take(); ok; i, ok = take() {
				if err := job(dir, i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// checkList checks, without running anything, that names are unique and
// that every breakage's text occurs exactly once in its file.
func checkList() error {
	root, err := gitRoot()
	if err != nil {
		return err
	}
	var errs []error
	names := map[string]bool{}
	for _, m := range mutations {
		if names[m.name] {
			errs = append(errs, fmt.Errorf("%s: named twice", m.name))
		}
		names[m.name] = true
		b, err := os.ReadFile(filepath.Join(root, m.file))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.name, err))
			continue
		}
		if n := bytes.Count(b, []byte(m.old)); n != 1 {
			errs = append(errs, fmt.Errorf("%s: %q occurs %d times in %s, want exactly once", m.name, m.old, n, m.file))
		}
	}
	return errors.Join(errs...)
}

// runBaseline runs every distinct test selection of todo on the unbroken
// copy: each must pass, and run at least one test.
func runBaseline(dirs []string, todo []mutation, perTest time.Duration) error {
	seen := map[[2]string]bool{}
	var sel []mutation
	for _, m := range todo {
		key := [2]string{m.testPkg(), m.tests}
		if !seen[key] {
			seen[key] = true
			sel = append(sel, m)
		}
	}
	var (
		mu     sync.Mutex
		failed []string
	)
	err := pool(dirs, len(sel), func(dir string, i int) error {
		m := sel[i]
		start := time.Now()
		out, err := goCmd(dir, perTest, "test", "-count=1", "-v", "-run", m.tests, m.testPkg())
		if strings.Contains(out, "[build failed]") || strings.Contains(out, "[setup failed]") {
			return fmt.Errorf("the tests do not build:\n%s", tail(out, 10))
		}
		mu.Lock()
		defer mu.Unlock()
		verdict := "pass"
		switch {
		case err != nil:
			verdict = "FAIL"
			failed = append(failed, m.testPkg()+" "+m.tests)
		case !ranATest(out):
			verdict = "NO TEST"
			failed = append(failed, m.testPkg()+" "+m.tests)
		}
		detail := ""
		if verdict != "pass" {
			detail = firstFailure(out)
		}
		fmt.Printf("%-8s %-16s %-45s %5.0fs  %s\n", verdict, m.testPkg(), m.tests, time.Since(start).Seconds(), detail)
		return nil
	})
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d test selections fail or run nothing unbroken: %s", len(failed), strings.Join(failed, "; "))
	}
	return nil
}

// ranATest reports whether go test -v output shows a test that passed.
func ranATest(out string) bool {
	return strings.Contains(out, "--- PASS: ")
}

// try applies m to the copy, runs its tests and restores the file.
func try(dir string, m mutation, perTest time.Duration) (caught bool, detail string, err error) {
	path := filepath.Join(dir, m.file)
	orig, err := os.ReadFile(path)
	if err != nil {
		return false, "", err
	}
	if n := bytes.Count(orig, []byte(m.old)); n != 1 {
		return false, "", fmt.Errorf("%q occurs %d times in %s, want exactly once: update the breakage", m.old, n, m.file)
	}
	broken := bytes.Replace(orig, []byte(m.old), []byte(m.new), 1)
	if err := os.WriteFile(path, broken, 0o644); err != nil {
		return false, "", err
	}
	defer func() {
		if rerr := os.WriteFile(path, orig, 0o644); rerr != nil && err == nil {
			err = rerr
		}
	}()

	// A breakage that does not compile proves nothing about the tests:
	// its package must vet, and the test binary must build (below).
	if out, err := goCmd(dir, 2*time.Minute, "vet", "./"+filepath.Dir(m.file)); err != nil {
		return false, "", fmt.Errorf("the broken tree does not compile:\n%s", tail(out, 10))
	}
	// go test's own -timeout, a little inside ours, prints every
	// goroutine of a test that hangs.
	out, err := goCmd(dir, perTest, "test", "-count=1", "-timeout", (perTest - 30*time.Second).String(), "-v", "-run", m.tests, m.testPkg())
	var exit *exec.ExitError
	switch {
	case err == nil && !ranATest(out):
		return false, "", fmt.Errorf("-run %s ran no test in %s: update the breakage", m.tests, m.testPkg())
	case err == nil:
		return false, "tests passed", nil
	case strings.Contains(out, "panic: test timed out after"):
		// A hang is no proof: the list must name tests that fail.
		f, ferr := os.CreateTemp("", "tcplab-mutate-hang-*.log")
		if ferr == nil {
			_, _ = f.WriteString(out)
			_ = f.Close()
			return false, "", fmt.Errorf("-run %s in %s hung (every goroutine in %s)", m.tests, m.testPkg(), f.Name())
		}
		return false, "", fmt.Errorf("-run %s in %s hung:\n%s", m.tests, m.testPkg(), tail(out, 40))
	case errors.As(err, &exit):
		if strings.Contains(out, "[build failed]") || strings.Contains(out, "[setup failed]") {
			return false, "", fmt.Errorf("the broken tree's tests do not build:\n%s", tail(out, 10))
		}
		if strings.Contains(out, "container tests skipped") {
			return false, "", errors.New("container tests skipped (no Docker?): nothing was tried")
		}
		return true, firstFailure(out), nil
	default:
		return false, "", err
	}
}

func goCmd(dir string, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	cmd.WaitDelay = 10 * time.Second
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	if ctx.Err() != nil {
		return b.String(), fmt.Errorf("go %s: timed out after %v", strings.Join(args, " "), timeout)
	}
	return b.String(), err
}

// firstFailure is the first assertion of a failing go test output: its
// message where testify gives one (or the expectation that did not hold),
// else its error line.
func firstFailure(out string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if strings.Contains(l, "did not hold") || strings.HasPrefix(l, "mutate:") || strings.HasPrefix(l, "tcplab harness:") {
			return truncate(l, 140)
		}
		if !strings.HasPrefix(l, "Error:") {
			continue
		}
		for _, m := range lines[i+1 : min(i+12, len(lines))] {
			m = strings.TrimSpace(m)
			if strings.HasPrefix(m, "Error Trace:") {
				break
			}
			if strings.HasPrefix(m, "Messages:") {
				return truncate(m, 140)
			}
		}
		return truncate(l, 140)
	}
	return "tests failed"
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func gitRoot() (string, error) {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", errors.New("run it inside the tcplab checkout")
	}
	return strings.TrimSpace(string(out)), nil
}

// copyTree copies the files git knows (tracked, and untracked but not
// ignored) from root to dst.
func copyTree(root, dst string) error {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git ls-files: %w", err)
	}
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if rel == "" {
			continue
		}
		if err := copyFile(filepath.Join(root, rel), filepath.Join(dst, rel)); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil // deleted in the work tree
	}
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil || st.IsDir() {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
