package kernelrun_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tcplab/tcplab/lab/kernelrun"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
	"github.com/tcplab/tcplab/lab/tcpmodel"
	"github.com/tcplab/tcplab/lab/vm"
)

// labBinary builds the static lab binary that becomes the VM's /init.
func labBinary(t testing.TB) string {
	dst := filepath.Join(t.TempDir(), "tcplab")
	build := exec.Command("go", "build", "-tags", "container", "-trimpath", "-ldflags=-s -w", "-o", dst, "github.com/tcplab/tcplab/lab/cmd/tcplab")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the lab binary: %v\n%s", err, out)
	}
	return dst
}

// runtimes returns a Runtime per named kernel in the cache, or skips.
func runtimes(t testing.TB) []*kernelrun.Runtime {
	if testing.Short() || raceEnabled {
		t.Skip("boots QEMU: not under -short or -race")
	}
	if os.Getenv("TCPLAB_VM_TESTS") == "" {
		// Software-emulated VMs load every core, and the scenario tests'
		// timers (the delay line's above all) must not share them.
		t.Skip("boots QEMU (software emulation loads every core): set TCPLAB_VM_TESTS=1, as .ci/run does after the scenario tests")
	}
	if _, err := vm.QEMUPath(); err != nil {
		t.Skip(err)
	}
	for _, s := range kernelrun.Specs { // what is cached, never a download
		if _, err := kernelrun.Cached(s); errors.Is(err, kernelrun.ErrNotCached) {
			t.Skip(err.Error() + ": run images/kernels.sh")
		} else if err != nil {
			t.Fatal(err)
		}
	}
	var bin string
	var out []*kernelrun.Runtime
	for _, s := range kernelrun.Specs {
		k, err := kernelrun.Find(context.Background(), s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if bin == "" {
			bin = labBinary(t)
		}
		r, err := kernelrun.New(s.Name, k, bin)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestKernels runs the six set-up scenarios on 6.1 and 6.12, the kernels
// side by side, each against its own expectation: every check of the
// scenario holds (they compute the SYN schedule from the namespace's own
// sysctls), tcp_syn_linear_timeouts is recorded as the kernel has it
// (absent on 6.1, 4 on 6.12), the SYNs the client's kernel sent follow
// that, and the blocked Dial gives up at the same time on both.
func TestKernels(t *testing.T) {
	rts := runtimes(t)
	type check func(t *testing.T, r *kernelrun.Runtime, res *scenario.Result)
	cases := []struct {
		id    string
		set   scenario.Knobs
		check check
	}{
		{"dial-refused", nil, nil},
		{"backlog-full", scenario.Knobs{"server.somaxconn": "16"}, func(t *testing.T, r *kernelrun.Runtime, res *scenario.Result) {
			o, err := scenario.Observations[scenarios.BacklogFullObs](res)
			if err != nil {
				t.Fatal(err)
			}
			if o.SucceededAtOnce != 17 {
				t.Errorf("somaxconn 16 admitted %d at once, want 17", o.SucceededAtOnce)
			}
		}},
		{"backlog-slow-accept", nil, nil},
		{"backlog-syn-timeout", scenario.Knobs{"client.tcp_syn_retries": "2"}, func(t *testing.T, r *kernelrun.Runtime, res *scenario.Result) {
			o, err := scenario.Observations[scenarios.BacklogSynTimeoutObs](res)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if r.Linear {
				want = 4 // the kernel's default: the runtime does not pin it
			}
			if o.TCPSynLinearTimeoutsAbsent == r.Linear || o.TCPSynLinearTimeouts != want {
				t.Errorf("tcp_syn_linear_timeouts %d (absent %v), want %d (absent %v)", o.TCPSynLinearTimeouts, o.TCPSynLinearTimeoutsAbsent, want, !r.Linear)
			}
			v, has := res.Sysctls["client"]["net.ipv4.tcp_syn_linear_timeouts"]
			if has != r.Linear || (has && v != strconv.Itoa(want)) {
				t.Errorf("the VM read tcp_syn_linear_timeouts %q (present %v)", v, has)
			}
			// 3 SYNs on 6.1 (0, 1, 3 s), 6 with 4 linear timeouts (0…5 s).
			sends, giveUp := tcpmodel.SynSchedule(2, want)
			if got := res.Counters["client"]["TcpExt.TCPSynRetrans"]; got != int64(len(sends)-1) {
				t.Errorf("client SYN retransmissions %d, want %d (schedule %v)", got, len(sends)-1, sends)
			}
			// 7 s on both: never early, late by at most 1/8 + 250 ms (the scenario's own bound).
			took := time.Duration(o.FailedAfterMS * float64(time.Millisecond))
			if giveUp != 7*time.Second || !tcpmodel.OnTime(took, giveUp, 1.0/8, 250*time.Millisecond) {
				t.Errorf("blocked Dial gave up after %v, want %v", took, giveUp)
			}
		}},
		{"dial-timeout", nil, nil},
		{"dial-lossy", scenario.Knobs{"client.dials": "20"}, nil},
	}
	for _, r := range rts {
		t.Run(r.Name, func(t *testing.T) {
			t.Parallel() // the kernels side by side
			var mu sync.Mutex
			r.Boots = func(boot, total time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				t.Logf("boot %v, run %v", boot.Round(time.Millisecond), total.Round(time.Millisecond))
			}
			for _, tc := range cases {
				sc, err := scenarios.Lookup(tc.id)
				if err != nil {
					t.Fatal(err)
				}
				tp, err := r.Plan(sc, tc.set)
				if err != nil {
					t.Fatal(err)
				}
				// A software-emulated guest on two busy cores now and then
				// fires a timer late (or its clock lags a jiffy): as Go's
				// own net tests do on slow machines, a failed run is tried
				// again, logged, up to three times; a real fault fails all.
				var res *scenario.Result
				for attempt := 1; ; attempt++ {
					ctx, cancel := context.WithTimeout(context.Background(), sc.Timeout+2*time.Minute)
					res, err = r.Run(ctx, tp)
					cancel()
					if err != nil {
						t.Fatalf("%s: %v", tc.id, err)
					}
					if res.OK || attempt == 3 {
						break
					}
					t.Logf("%s on %s, attempt %d of 3 failed (tried again): %s %v", tc.id, res.Kernel, attempt, res.Error, res.Failed())
				}
				t.Logf("%s on %s: %s", tc.id, res.Kernel, res.Headline)
				if !res.OK {
					t.Errorf("%s on %s: %s %v", tc.id, res.Kernel, res.Error, res.Failed())
				}
				if res.Kernel != r.Machine.Kernel.Release || res.RouteOut != "none" {
					t.Errorf("%s: kernel %q (booted %q), route out %q", tc.id, res.Kernel, r.Machine.Kernel.Release, res.RouteOut)
				}
				if want := r.Machine.Kernel.Package(); res.KernelPackage != want || !strings.Contains(want, "=") {
					t.Errorf("%s: kernel package %q, booted %q (want NAME=VERSION)", tc.id, res.KernelPackage, want)
				}
				if tc.check != nil {
					tc.check(t, r, res)
				}
			}
		})
	}
}
