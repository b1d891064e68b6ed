package scenario

import (
	"fmt"
	"math"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/tcpmodel"
)

// Facts is what the platform that measured declares about itself. A check
// may go unmeasured only for a reason the platform declares; on a native
// Linux host it declares none, so every check there is measured or fails.
type Facts struct {
	// Emulated names the user-mode emulator the measuring binary ran
	// under ("qemu-user": the binary's architecture differs from the
	// kernel's); empty on a native host.
	Emulated string `json:"emulated,omitempty"`
}

// Reason is why a check could not be measured, as a platform declares it.
type Reason string

// The reasons a platform can declare.
const (
	// NoSockDiag: qemu-user refuses NETLINK_SOCK_DIAG sockets, so a
	// listener's accept queue cannot be read.
	NoSockDiag Reason = "qemu-user refuses NETLINK_SOCK_DIAG sockets"
	// NoTCPInfoCounters: qemu-user translates only part of tcp_info, so
	// its byte counters read 0.
	NoTCPInfoCounters Reason = "qemu-user translates only part of tcp_info (its byte counters read 0)"
)

// Declares reports whether the platform declares r: both reasons come with
// qemu-user and only with it.
func (f Facts) Declares(r Reason) bool {
	switch r {
	case NoSockDiag, NoTCPInfoCounters:
		return f.Emulated == "qemu-user"
	}
	return false
}

// Verdict collects a scenario's checks and its report headline. Verdicts
// are written as pure functions of the knobs, the platform's facts and
// the observation: no I/O, no clock, so the client, `tcplab run`, compose
// and `go test` judge alike, and a committed observation can be judged
// again without Docker.
type Verdict struct {
	Facts    Facts
	Checks   []Check
	headline string
}

// Expect records whether an expectation held, with a detail for the report.
func (v *Verdict) Expect(name string, ok bool, format string, args ...any) {
	v.Checks = append(v.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
}

// Unmeasured records that name could not be measured because of r. It
// counts as unmeasured only where the platform declares r; anywhere else
// the check fails, since the figure should have been there.
func (v *Verdict) Unmeasured(name string, r Reason, format string, args ...any) {
	detail := fmt.Sprintf(format, args...)
	if v.Facts.Declares(r) {
		v.Checks = append(v.Checks, Check{Name: name, OK: true, Unmeasured: string(r), Detail: detail})
		return
	}
	v.Checks = append(v.Checks, Check{Name: name, OK: false,
		Detail: fmt.Sprintf("not measured (%s), and this platform declares no such reason: %s", r, detail)})
}

// Headline sets the one-line summary shown in the report table.
func (v *Verdict) Headline(format string, args ...any) { v.headline = fmt.Sprintf(format, args...) }

// Timely checks that got, the time something a timer or a delay ends after
// want took, is neither early nor late: never before want, and at most
// want·lateFrac + slack after it. The bound must reject twice the right
// value (want·lateFrac + slack < want), or the check could not tell a
// doubled timer from a slow machine; a bound that cannot is a failed check.
func (v *Verdict) Timely(name string, got, want time.Duration, lateFrac float64, slack time.Duration) {
	late := tcpmodel.LateBound(want, lateFrac, slack)
	if late >= 2*want {
		v.Expect(name, false, "the bound %v … %v admits twice %v: it pins nothing", want, late, want)
		return
	}
	v.Expect(name, tcpmodel.OnTime(got, want, lateFrac, slack), "%v, want %v … %v (+%.0f%% + %v)", got, want, late, lateFrac*100, slack)
}

// TimelyAll is Timely over the values in got: none may be early, and their
// median must not be late. One value of several that a busy runner
// descheduled (a Write back 45.7 ms after its 200 ms deadline, the
// other four within 1 ms) is the runner's, not the timer's.
func (v *Verdict) TimelyAll(name string, got []time.Duration, want time.Duration, lateFrac float64, slack time.Duration) {
	if len(got) == 0 {
		v.Expect(name, false, "no times measured")
		return
	}
	sorted := slices.Sorted(slices.Values(got))
	lo, hi, med := sorted[0], sorted[len(sorted)-1], sorted[len(sorted)/2]
	late := tcpmodel.LateBound(want, lateFrac, slack)
	if late >= 2*want {
		v.Expect(name, false, "the bound %v … %v admits twice %v: it pins nothing", want, late, want)
		return
	}
	detail := fmt.Sprintf("%d times %v … %v, want %v … %v (+%.0f%% + %v)", len(got), lo, hi, want, late, lateFrac*100, slack)
	if hi > late {
		detail += fmt.Sprintf("; median %v", med)
	}
	v.Expect(name, lo >= want && med <= late, "%s", detail)
}

// Between checks lo ≤ got ≤ hi, stating the bound.
func (v *Verdict) Between(name string, got, lo, hi float64, unit string) {
	v.Expect(name, got >= lo && got <= hi, "%g%s, want %g … %g%s", got, unit, lo, hi, unit)
}

// Count checks that k events out of n trials of probability p are inside
// the binomial interval at false-alarm rate alpha (split evenly between
// the two tails).
func (v *Verdict) Count(name string, k, n int, p, alpha float64) {
	lo, hi := BinomialRange(n, p, alpha)
	v.Expect(name, k >= lo && k <= hi, "%d of %d, want %d … %d (p=%g, false alarm %g)", k, n, lo, hi, p, alpha)
}

// FalseAlarm is the false-alarm rate a whole run's statistical checks
// share: a run with m of them gives each FalseAlarm/m.
const FalseAlarm = 1e-4

// BinomialRange is the interval [lo, hi] of a Binomial(n, p) count outside
// which each tail has probability at most alpha/2.
func BinomialRange(n int, p, alpha float64) (lo, hi int) {
	if p <= 0 {
		return 0, 0
	}
	if p >= 1 {
		return n, n
	}
	pmf := func(k int) float64 {
		lg := func(x int) float64 { l, _ := math.Lgamma(float64(x) + 1); return l }
		return math.Exp(lg(n) - lg(k) - lg(n-k) + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
	}
	tail := alpha / 2
	lo, cum := 0, 0.0
	for ; lo <= n; lo++ {
		if cum+pmf(lo) > tail {
			break
		}
		cum += pmf(lo)
	}
	hi, cum = n, 0.0
	for ; hi >= 0; hi-- {
		if cum+pmf(hi) > tail {
			break
		}
		cum += pmf(hi)
	}
	return lo, hi
}

// VerdictsOf declares a scenario's verdicts for its observation type T
// (Scenario.Verdicts): fn is called with the decoded observation.
func VerdictsOf[T any](fn func(k Knobs, o *T, v *Verdict)) func(Knobs, any, *Verdict) {
	return func(k Knobs, obs any, v *Verdict) {
		o, ok := obs.(*T)
		if !ok {
			v.Expect("observations have the scenario's type", false, "got %T, want *%s", obs, reflect.TypeFor[T]())
			return
		}
		fn(k, o, v)
	}
}

// Judge judges r, a result of s with its observations recorded: it decodes
// them strictly and runs s's verdicts and the network's, replacing r's
// checks, headline and OK. The client calls it after measuring; anyone
// holding a result file can call it again and gets the same verdicts.
func (s *Scenario) Judge(r *Result) error {
	if s.Verdicts == nil {
		return fmt.Errorf("scenario %s has no verdicts", s.ID)
	}
	obs, err := s.DecodeObs(r)
	if err != nil {
		return err
	}
	v := &Verdict{Facts: r.Facts}
	s.Verdicts(r.Knobs, obs, v)
	if r.Network != nil {
		NetworkVerdicts(r.Knobs.Impairment(), r.Network, v)
	}
	r.Checks, r.Headline = v.Checks, v.headline
	r.OK = r.Error == "" && len(r.Checks) > 0
	for _, c := range r.Checks {
		r.OK = r.OK && c.OK
	}
	return nil
}

// LocalFacts is this process's platform: emulated when the kernel's
// architecture (/proc/sys/kernel/arch, which qemu-user passes through
// while it fakes uname) is not the one this binary was built for.
func LocalFacts() Facts {
	b, err := os.ReadFile("/proc/sys/kernel/arch")
	if err != nil {
		return Facts{}
	}
	goarch := map[string]string{"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
		"riscv64": "riscv64", "ppc64le": "ppc64le", "s390x": "s390x"}[strings.TrimSpace(string(b))]
	if goarch != "" && goarch != runtime.GOARCH {
		return Facts{Emulated: "qemu-user"}
	}
	return Facts{}
}
