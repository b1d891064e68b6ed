// Package scenario defines what a tcplab scenario is: knobs with defaults, a
// server behaviour, a client driver that measures and checks, and the JSON
// result the driver prints. A scenario is declared once, so that go test,
// tcplab run, compose and the VM runtime run and judge the same thing.
// Scenarios themselves live in lab/scenarios, one file each; lab/runner
// runs one in its containers (handing the driver an Env made by NewEnv),
// and lab/tcpmodel is the timer model its checks measure against.
package scenario

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/impair"
)

// Port is the TCP port under test on the server.
const Port = 8080

// Scenario is one named experiment of the catalogue (docs/scenarios.md).
type Scenario struct {
	ID      string
	Section string // the article's section, e.g. "2 Connection set-up"
	Title   string // one line: what it shows
	Knobs   []Knob
	// Sidecar says the driver impairs the network through the agent in the
	// server's namespace (every run has one: it owns the namespace).
	Sidecar bool
	// Timeout bounds the whole client run; the harness adds start-up slack.
	Timeout time.Duration
	// Cases are the knob sets the lab report runs (one row each); nil means
	// the defaults once.
	Cases []Knobs
	// Server runs in the server container; nil means "listen on nothing but
	// the control port".
	Server func(s *ServerEnv) error
	// Client runs in the client container and measures; it records one
	// value of the Obs type with Env.Record. It judges nothing: Verdicts
	// does.
	Client func(e *Env) error
	// Verdicts judges a run: a pure function of the knobs and the
	// observation (and the platform's facts, in the Verdict), declared
	// with VerdictsOf. The client judges with it after measuring, and so
	// does anyone holding a result (Scenario.Judge).
	Verdicts func(k Knobs, obs any, v *Verdict)
	// Obs returns a new zero value (a pointer) of the scenario's observation
	// struct, whose JSON form is the result's "observations"; declare it
	// with ObsOf[T]().
	Obs func() any
	// Article is the article's 2015 figure for the report, with why it differs.
	Article string
	// Weight estimates one run's wall time with knobs k, start-up included,
	// so a parallel run can start the longest first; nil means Timeout/4.
	Weight func(k Knobs) time.Duration
	// Load says how a run and the CPU load of runs beside it interact, so
	// a parallel run can overlap what does not disturb each other; a
	// run's knobs may raise it (lab/planner's LoadOf).
	Load Load
	// Published, when set, has the harness publish the server's
	// PublishedPort on the host's 127.0.0.1 and run this probe from the
	// host (the one place the host dials; compose leaves it out).
	Published HostProbe
}

// Load is how a scenario's run and the runs beside it disturb each other.
type Load int

const (
	// Neutral runs wait on kernel timers with tolerances that CPU load
	// does not reach (seconds of SYN backoff, deadlines of a second).
	Neutral Load = iota
	// Quiet runs measure timers a busy CPU would skew (a 40 ms delayed
	// ACK, RTTs through the userspace delay line): while one measures,
	// the runs beside it start and stop containers one at a time, the way
	// its tolerances were measured.
	Quiet
	// Alone runs are quiet and also load the CPU themselves (thousands of
	// connections): nothing else runs beside them.
	Alone
)

// Expected is the scenario's Weight for knobs k.
func (s *Scenario) Expected(k Knobs) time.Duration {
	if s.Weight != nil {
		return s.Weight(k)
	}
	return s.Timeout / 4
}

// Resolve merges overrides into the scenario's defaults and the pinned
// sysctls and validates every value; unknown knobs are an error.
func (s *Scenario) Resolve(overrides Knobs) (Knobs, error) {
	k := Knobs{}
	for _, role := range []Role{Server, Client} {
		for short, v := range PinnedSysctls {
			k[string(role)+"."+short] = v
		}
	}
	for _, kn := range s.Knobs {
		k[kn.Name] = kn.Default
	}
	names := make([]string, 0, len(overrides))
	for n := range overrides {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		kn, ok := s.knob(n)
		if !ok {
			return nil, fmt.Errorf("scenario %s has no knob %q (knobs: %s)", s.ID, n, strings.Join(s.KnobNames(), ", "))
		}
		if err := kn.validate(overrides[n]); err != nil {
			return nil, err
		}
		k[n] = strings.TrimSpace(overrides[n])
	}
	if err := checkImpair(k); err != nil {
		return nil, err
	}
	return k, nil
}

func (s *Scenario) knob(name string) (Knob, bool) {
	for _, kn := range s.Knobs {
		if kn.Name == name {
			return kn, true
		}
	}
	if kn, ok := commonKnob(name); ok {
		return kn, true
	}
	return sysctlKnob(name)
}

// KnobNames lists the scenario's own knobs and the sysctl knob pattern.
func (s *Scenario) KnobNames() []string {
	var out []string
	for _, kn := range s.Knobs {
		out = append(out, kn.Name)
	}
	for _, kn := range append(ImpairKnobs, LimitKnobs...) {
		if !slices.Contains(out, kn.Name) { // a scenario's own default for it
			out = append(out, kn.Name)
		}
	}
	return append(out, "server.<sysctl>", "client.<sysctl>")
}

// Check is one expectation and whether it held.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
	// Unmeasured says why the check could not be made where the run
	// happened (for example qemu-user refuses sock_diag); OK is then true
	// and every report lists it, so nothing is skipped silently.
	Unmeasured string `json:"unmeasured,omitempty"`
}

// Schema names the version of Result's JSON form.
const Schema = "tcplab.result/v1"

// Result is what a client driver prints: one JSON document.
type Result struct {
	Schema   string `json:"schema"`
	Scenario string `json:"scenario"`
	Knobs    Knobs  `json:"knobs"`
	Kernel   string `json:"kernel"`
	// KernelPackage is the Debian package a VM's kernel was unpacked from,
	// as apt names one version of it, NAME=VERSION (apt-get download
	// fetches that same .deb again): Kernel, the guest's uname -r, does
	// not say which upload of the package booted. Empty for container runs.
	KernelPackage string `json:"kernel_package,omitempty"`
	Mechanism     string `json:"mechanism"` // how the network was impaired: none, nftables, netem, delayline, tbf
	Platform      string `json:"platform"`  // os/arch of the binary that measured (linux/arm64 also under emulation)
	// Facts is what that platform declares about itself: the reasons a
	// check may go unmeasured there.
	Facts Facts `json:"facts"`
	// Network is the impair.* knobs' network and what the kernel measured
	// through it (tcpi_rtt_ms); nil when no impair.* knob was set.
	Network      *impair.Network `json:"network,omitempty"`
	Started      time.Time       `json:"started"`
	DurationMS   float64         `json:"duration_ms"`
	Headline     string          `json:"headline"`     // one line for the report table
	Observations json.RawMessage `json:"observations"` // the scenario's Obs type; read with Observations[T]
	Checks       []Check         `json:"checks"`
	OK           bool            `json:"ok"`
	Error        string          `json:"error,omitempty"` // the driver failed to run
	// PeakRSSKiB is each container's peak RSS (server, server-agent, client, client-agent),
	// as each role read its own VmHWM at the end of the run.
	PeakRSSKiB map[string]int64 `json:"peak_rss_kib,omitempty"`
	// RouteOut is "none" when a route lookup to a documentation address
	// failed with "network is unreachable" in both the client's and the
	// server's namespace: the run had no way out of the lab.
	RouteOut string `json:"route_out"`
	// TimersLateMS is, for the client and the server, how much later than
	// asked the role's own timers fired at the most while it ran (a
	// goroutine sleeping 5 ms at a time): the runner's scheduling, not TCP.
	TimersLateMS map[string]float64 `json:"timers_late_ms,omitempty"`
	// Attempts is how many times the run was measured: 2 when the first
	// measurement failed while the delay line ran late (impair.LineLate)
	// or a role's timers did (TimersLate).
	Attempts int `json:"attempts,omitempty"`
	// CouldNotRun says why the lab could not carry the run out (Docker
	// failed or did not answer, no place came): no verdict on TCP.
	CouldNotRun string `json:"could_not_run,omitempty"`
	// Sysctls and Counters are what a VM runtime read in each host's
	// namespace (host → name → value; a sysctl the kernel lacks is not
	// there), so a per-kernel report explains a difference from the
	// kernel's own settings. Empty for container runs.
	Sysctls  map[string]map[string]string `json:"sysctls,omitempty"`
	Counters map[string]map[string]int64  `json:"counters,omitempty"`
}

// TimersLate says which roles' timers fired more than bound late
// (TimersLateMS, sorted by role), and whether any did.
func (r *Result) TimersLate(bound time.Duration) (string, bool) {
	var parts []string
	for _, role := range slices.Sorted(maps.Keys(r.TimersLateMS)) {
		if ms := r.TimersLateMS[role]; ms > Ms(bound) {
			parts = append(parts, fmt.Sprintf("%s's timers fired %.1f ms late", role, ms))
		}
	}
	return strings.Join(parts, ", "), len(parts) > 0
}

// NotMeasured lists the checks that could not be made, with the reason.
func (r *Result) NotMeasured() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Unmeasured != "" {
			out = append(out, c.Name+": "+c.Unmeasured)
		}
	}
	return out
}

// Failed lists the checks that did not hold, the driver error if any, and
// why the lab could not run it if it could not.
func (r *Result) Failed() []string {
	var out []string
	if r.CouldNotRun != "" {
		out = append(out, "the lab could not run it (not a verdict on TCP): "+r.CouldNotRun)
	}
	if r.Error != "" {
		out = append(out, "driver error: "+r.Error)
	}
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c.Name+": "+c.Detail)
		}
	}
	return out
}
