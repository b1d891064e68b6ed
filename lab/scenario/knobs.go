package scenario

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kind says how a knob's value is parsed and validated.
type Kind int

const (
	Int Kind = iota
	Duration
	Fraction // a float in [0, 1]
	Text
	Bool
)

// Role is where a knob takes effect: a container's sysctl, or a Go-level
// parameter that every role of the scenario receives.
type Role string

const (
	Server Role = "server"
	Client Role = "client"
	Impair Role = "impair"
)

// Knob is one named setting of a scenario, e.g. "server.somaxconn" (a sysctl
// of the server container) or "client.dial_timeout" (a Go-level parameter).
type Knob struct {
	Name    string
	Default string
	Kind    Kind
	Help    string
	Min     float64 // for Int, Duration (seconds) and Fraction; ignored when Min == Max == 0
	Max     float64
	Choices []string // for Text: the only values accepted, when set
}

// Sysctls that may be set per container, by their short knob name. Host-wide
// ones (net.core.rmem_max, …) are not here: Docker refuses them per container.
var Sysctls = map[string]string{
	"somaxconn":               "net.core.somaxconn",
	"tcp_rmem":                "net.ipv4.tcp_rmem",
	"tcp_wmem":                "net.ipv4.tcp_wmem",
	"tcp_syn_retries":         "net.ipv4.tcp_syn_retries",
	"tcp_syn_linear_timeouts": "net.ipv4.tcp_syn_linear_timeouts",
	"tcp_synack_retries":      "net.ipv4.tcp_synack_retries",
	"tcp_abort_on_overflow":   "net.ipv4.tcp_abort_on_overflow",
	"tcp_syncookies":          "net.ipv4.tcp_syncookies",
	"tcp_max_syn_backlog":     "net.ipv4.tcp_max_syn_backlog",
	"tcp_keepalive_time":      "net.ipv4.tcp_keepalive_time",
	"tcp_fin_timeout":         "net.ipv4.tcp_fin_timeout",
	"tcp_retries2":            "net.ipv4.tcp_retries2",
	"tcp_moderate_rcvbuf":     "net.ipv4.tcp_moderate_rcvbuf",
	"tcp_autocorking":         "net.ipv4.tcp_autocorking",
}

// PinnedSysctls are set in every server and client container unless a
// scenario or the user overrides them, so runs do not inherit the host's
// values. tcp_syn_linear_timeouts=0 is added by the runner only where the
// kernel has it (Docker refuses unknown sysctls).
var PinnedSysctls = map[string]string{
	"somaxconn":       "4096",
	"tcp_rmem":        "4096 131072 6291456",
	"tcp_wmem":        "4096 16384 4194304",
	"tcp_syn_retries": "6",
}

// Knobs holds the effective knob values of one run, by full name.
type Knobs map[string]string

func (k Knobs) Str(name string) string { return k[name] }

func (k Knobs) Int(name string) int {
	v, err := strconv.Atoi(strings.TrimSpace(k[name]))
	if err != nil {
		panic(fmt.Sprintf("knob %s=%q: not an integer", name, k[name]))
	}
	return v
}

func (k Knobs) Float(name string) float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(k[name]), 64)
	if err != nil {
		panic(fmt.Sprintf("knob %s=%q: not a number", name, k[name]))
	}
	return v
}

func (k Knobs) Duration(name string) time.Duration {
	v, err := time.ParseDuration(strings.TrimSpace(k[name]))
	if err != nil {
		panic(fmt.Sprintf("knob %s=%q: not a duration", name, k[name]))
	}
	return v
}

func (k Knobs) Bool(name string) bool {
	v, err := strconv.ParseBool(strings.TrimSpace(k[name]))
	if err != nil {
		panic(fmt.Sprintf("knob %s=%q: not a bool", name, k[name]))
	}
	return v
}

// Args renders the knobs as sorted "name=value" strings for a command line.
func (k Knobs) Args() []string {
	out := make([]string, 0, len(k))
	for n, v := range k {
		out = append(out, n+"="+v)
	}
	sort.Strings(out)
	return out
}

// SysctlsFor returns the Docker sysctls (full names) for one container role.
func (k Knobs) SysctlsFor(role Role) map[string]string {
	out := map[string]string{}
	prefix := string(role) + "."
	for n, v := range k {
		if short, ok := strings.CutPrefix(n, prefix); ok {
			if full, ok := Sysctls[short]; ok {
				out[full] = v
			}
		}
	}
	return out
}

func (kn Knob) validate(v string) error {
	v = strings.TrimSpace(v)
	var num float64
	switch kn.Kind {
	case Int:
		i, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("knob %s=%q: want an integer", kn.Name, v)
		}
		num = float64(i)
	case Duration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("knob %s=%q: want a duration such as 2s or 500ms", kn.Name, v)
		}
		num = d.Seconds()
	case Fraction:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return fmt.Errorf("knob %s=%q: want a number from 0 to 1", kn.Name, v)
		}
		return nil
	case Bool:
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("knob %s=%q: want true or false", kn.Name, v)
		}
		return nil
	case Text:
		if strings.ContainsAny(v, "\n\x00") {
			return fmt.Errorf("knob %s: value has a newline or NUL", kn.Name)
		}
		if len(kn.Choices) > 0 && !slices.Contains(kn.Choices, v) {
			return fmt.Errorf("knob %s=%q: want one of %s", kn.Name, v, strings.Join(kn.Choices, ", "))
		}
		return nil
	}
	if (kn.Min != 0 || kn.Max != 0) && (num < kn.Min || num > kn.Max) {
		return fmt.Errorf("knob %s=%q: out of range [%s, %s]", kn.Name, v, kn.bound(kn.Min), kn.bound(kn.Max))
	}
	return nil
}

// bound renders a Min or Max in the knob's own unit: a duration's bounds
// are stored in seconds, which "[0, 60]" would leave the reader to guess.
func (kn Knob) bound(b float64) string {
	switch kn.Kind {
	case Duration:
		return time.Duration(b * float64(time.Second)).String()
	case Int:
		return strconv.FormatInt(int64(b), 10) // %g would print 1<<20 as 1.048576e+06
	}
	return strconv.FormatFloat(b, 'g', -1, 64)
}

// sysctlKnob describes a generic per-container sysctl knob such as
// "client.tcp_syn_retries"; every scenario accepts these.
func sysctlKnob(name string) (Knob, bool) {
	role, short, ok := strings.Cut(name, ".")
	if !ok || (role != string(Server) && role != string(Client)) {
		return Knob{}, false
	}
	if _, ok := Sysctls[short]; !ok {
		return Knob{}, false
	}
	kn := Knob{Name: name, Kind: Int, Min: 0, Max: 1 << 20}
	switch short {
	case "tcp_rmem", "tcp_wmem":
		kn.Kind = Text
	case "tcp_syn_retries", "tcp_synack_retries":
		kn.Min, kn.Max = 1, 127
	case "tcp_syn_linear_timeouts":
		kn.Min, kn.Max = 0, 255
	case "somaxconn":
		kn.Min, kn.Max = 0, 65535
	}
	return kn, true
}

// ImpairKnobs are the network between client and server, which every
// scenario accepts. Unset, they are off; set, the run gets an agent in the
// server's namespace (and in the client's, for delay) that applies them
// before the scenario's driver starts.
var ImpairKnobs = []Knob{
	{Name: "impair.rtt", Default: "0s", Kind: Duration, Min: 0, Max: 60,
		Help: "round-trip time added, half on each side's ingress (up to 1m)"},
	{Name: "impair.jitter", Default: "0s", Kind: Duration, Min: 0, Max: 60,
		Help: "the added RTT varies by up to ± this (at most impair.rtt); packets are never reordered"},
	{Name: "impair.loss", Default: "0", Kind: Fraction,
		Help: "fraction of the lab port's TCP packets dropped, each direction"},
	{Name: "impair.rate", Default: "0", Kind: Int, Min: 0, Max: 10_000_000,
		Help: "rate limit in kbit/s, each direction (TBF on each side's egress); 0 is none"},
	{Name: "impair.mechanism", Default: "auto", Kind: Text, Choices: []string{"auto", "netem", "delayline"},
		Help: "how delay, jitter and loss are made: netem where the kernel has it, else the delay line"},
	{Name: "impair.probe", Default: "10", Kind: Int, Min: 1, Max: 100_000,
		Help: "one-byte round trips of the RTT probe run before the scenario (p50/p99 in the result's network)"},
	{Name: "impair.probe_peer", Default: "false", Kind: Bool,
		Help: "also run the probe's round trips through toxiproxy's latency toxic (same RTT, unimpaired port), for comparison"},
	{Name: "impair.crash", Default: "none", Kind: Text, Choices: []string{"none", "kill", "term"},
		Help: "fault drill: the server's delay line dies (kill: its queue abandoned) or stops (term: the clean stop) after the probe's round trips; the run must fail"},
	{Name: "impair.crash_after", Default: "0s", Kind: Duration, Min: 0, Max: 60,
		Help: "fault drill: how long after the round trips the delay line dies (during impair.probe_bulk, for instance)"},
	{Name: "impair.probe_bulk", Default: "0", Kind: Int, Min: 0, Max: 1 << 30,
		Help: "bytes the probe sends in bulk to measure throughput through the impairment; 0 is none"},
}

// LimitKnobs are the role containers' resource limits, which every
// scenario accepts; unset, there are none. A limit set too low is a fault
// drill: the role the kernel OOM-kills fails the run, which says so.
var LimitKnobs = []Knob{
	{Name: "server.memory_limit", Default: "0", Kind: Int, Min: 0, Max: 1 << 40,
		Help: "the server container's memory limit in bytes, no swap (at least 6 MiB, Docker's minimum); 0 is none"},
	{Name: "client.memory_limit", Default: "0", Kind: Int, Min: 0, Max: 1 << 40,
		Help: "the client container's memory limit in bytes, no swap (at least 6 MiB); 0 is none"},
}

// MinMemoryLimit is the smallest memory limit Docker accepts.
const MinMemoryLimit = 6 << 20

// MemoryLimit is role's container memory limit in bytes (its
// ROLE.memory_limit knob); 0 is none.
func (k Knobs) MemoryLimit(role Role) int64 {
	n, _ := strconv.ParseInt(k[string(role)+".memory_limit"], 10, 64)
	return n
}

// commonKnob finds a knob every scenario accepts: impair.* or a limit.
func commonKnob(name string) (Knob, bool) {
	for _, list := range [][]Knob{ImpairKnobs, LimitKnobs} {
		for _, kn := range list {
			if kn.Name == name {
				return kn, true
			}
		}
	}
	return Knob{}, false
}

// Impairment is the network a run asked for with the impair.* knobs.
type Impairment struct {
	RTT, Jitter time.Duration
	Loss        float64
	RateKbit    int
	Mechanism   string        // auto, netem or delayline
	Probe       int           // round trips of the RTT probe
	ProbeBulk   int           // bytes of the probe's bulk transfer
	ProbePeer   bool          // the probe's round trips through toxiproxy too
	Crash       string        // fault drill: "kill" or "term" the server's delay line after the round trips
	CrashAfter  time.Duration // … this long after them
}

// Impairment reads the impair.* knobs; unset ones are off. Values were
// validated by Resolve.
func (k Knobs) Impairment() Impairment {
	im := Impairment{Mechanism: "auto", Probe: 10}
	set := func(name string) bool { _, ok := k[name]; return ok }
	if set("impair.rtt") {
		im.RTT = k.Duration("impair.rtt")
	}
	if set("impair.jitter") {
		im.Jitter = k.Duration("impair.jitter")
	}
	if set("impair.loss") {
		im.Loss = k.Float("impair.loss")
	}
	if set("impair.rate") {
		im.RateKbit = k.Int("impair.rate")
	}
	if v := k.Str("impair.mechanism"); v != "" {
		im.Mechanism = v
	}
	if set("impair.probe") {
		im.Probe = k.Int("impair.probe")
	}
	if set("impair.probe_peer") {
		im.ProbePeer = k.Bool("impair.probe_peer")
	}
	if v := k.Str("impair.crash"); v != "" && v != "none" {
		im.Crash = v
	}
	if set("impair.crash_after") {
		im.CrashAfter = k.Duration("impair.crash_after")
	}
	if set("impair.probe_bulk") {
		im.ProbeBulk = k.Int("impair.probe_bulk")
	}
	// What is asked is judged (NetworkVerdicts), so the probe measures
	// enough for it unless told otherwise: 200 round trips put the
	// jitter's spread in their 99th percentile, and two seconds of bulk
	// at the rate measure the rate.
	if !set("impair.probe") && im.Jitter > 0 {
		im.Probe = 200
	}
	if !set("impair.probe_bulk") && im.RateKbit > 0 {
		im.ProbeBulk = max(64<<10, im.RateKbit*1000/8*2)
	}
	return im
}

// Active reports whether any impairment was asked for.
func (im Impairment) Active() bool {
	return im.RTT > 0 || im.Jitter > 0 || im.Loss > 0 || im.RateKbit > 0
}

// Budget is the time a run's impairment adds to the scenario's timeout:
// applying it and the RTT probe (its round trips, 10 connections at most,
// and its bulk transfer at no less than 1 MB/s).
func (im Impairment) Budget() time.Duration {
	if !im.Active() {
		return 0
	}
	trips := time.Duration(im.Probe/min(10, max(1, im.Probe/100)) + 5)
	if im.ProbePeer {
		trips *= 2
	}
	return 10*time.Second + trips*(im.RTT+im.Jitter+50*time.Millisecond) + time.Duration(im.ProbeBulk)*time.Microsecond
}

// ClientAgent reports whether the client's namespace needs an agent too:
// delay is held on each side's ingress, so is loss by netem or delay line,
// and the rate is limited on each side's egress.
func (im Impairment) ClientAgent() bool {
	return im.RTT > 0 || im.Jitter > 0 || im.RateKbit > 0 || (im.Loss > 0 && im.Mechanism != "auto")
}

// checkImpair validates the impair.* knobs together.
func checkImpair(k Knobs) error {
	im := k.Impairment()
	if im.Jitter > im.RTT {
		return fmt.Errorf("knob impair.jitter=%v is larger than impair.rtt=%v: a delay cannot be negative", im.Jitter, im.RTT)
	}
	for _, role := range []Role{Server, Client} {
		if m := k.MemoryLimit(role); m > 0 && m < MinMemoryLimit {
			return fmt.Errorf("knob %s.memory_limit=%d: Docker's smallest memory limit is %d (6 MiB)", role, m, MinMemoryLimit)
		}
	}
	return nil
}
