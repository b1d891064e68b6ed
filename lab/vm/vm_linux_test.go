package vm_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcplab/tcplab/lab/debian"
	"github.com/tcplab/tcplab/lab/kernelrun"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
	"github.com/tcplab/tcplab/lab/vm"
)

// roles declares a scenario's server and client as the container harness
// does (lab/harness/topology.go): same arguments, same per-role sysctls.
func roles(t *testing.T, id string, set scenario.Knobs) (*scenario.Scenario, []vm.Role) {
	sc, err := scenarios.Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	k, err := sc.Resolve(set)
	if err != nil {
		t.Fatal(err)
	}
	args := k.Args()
	return sc, []vm.Role{
		{Name: "server", Args: append([]string{"serve", id}, args...), Sysctls: k.SysctlsFor(scenario.Server), Wait: "ready"},
		{Name: "client", Args: append([]string{"client", id, "-server", "server"}, args...), Sysctls: k.SysctlsFor(scenario.Client), Wait: "exit"},
	}
}

// labBinary builds the static lab binary that becomes the VM's /init.
func labBinary(t *testing.T) string {
	dst := filepath.Join(t.TempDir(), "tcplab")
	build := exec.Command("go", "build", "-tags", "container", "-trimpath", "-ldflags=-s -w", "-o", dst, "github.com/tcplab/tcplab/lab/cmd/tcplab")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the lab binary: %v\n%s", err, out)
	}
	return dst
}

// machine returns a Machine for the newest cached 6.1 kernel (one
// without tcp_syn_linear_timeouts), or skips.
func machine(t *testing.T) *vm.Machine {
	skipSlow(t)
	if _, err := vm.QEMUPath(); err != nil {
		t.Skip(err)
	}
	k, err := cachedKernel("6.1")
	if errors.Is(err, kernelrun.ErrNotCached) {
		t.Skip(err.Error() + ": run images/kernels.sh")
	}
	if err != nil {
		t.Fatal(err)
	}
	return &vm.Machine{Kernel: k, Binary: labBinary(t)}
}

// cachedKernel unpacks the newest cached package of the named kernel, the
// one --kernel boots; it never downloads.
func cachedKernel(name string) (*debian.Kernel, error) {
	spec, err := kernelrun.Lookup(name)
	if err != nil {
		return nil, err
	}
	deb, err := kernelrun.Cached(spec)
	if err != nil {
		return nil, err
	}
	cache, err := debian.CacheDir()
	if err != nil {
		return nil, err
	}
	return debian.Unpack(deb, cache)
}

// TestCancel: ending the context mid-run (what Ctrl-C does through the
// CLI's signal context) kills QEMU and removes the initramfs.
func TestCancel(t *testing.T) {
	m := machine(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	_, rs := roles(t, "backlog-syn-timeout", scenario.Knobs{"client.tcp_syn_retries": "5"})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(3*time.Second, cancel)
	start := time.Now()
	_, err := m.Run(ctx, vm.Config{Roles: rs}, 3*time.Minute)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 3*time.Second+6*time.Second {
		t.Errorf("Run returned %v after the cancel", took-3*time.Second)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
	if left := qemuWith(tmp); len(left) > 0 {
		t.Errorf("QEMU still runs: %v", left)
	}
}

// skipSlow skips VM boots under -short and -race (the race detector
// does not reach into the guest; the boots would only cost a minute more).
func skipSlow(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("boots QEMU: not under -short or -race")
	}
	if os.Getenv("TCPLAB_VM_TESTS") == "" {
		t.Skip("boots QEMU (software emulation loads every core): set TCPLAB_VM_TESTS=1, as .ci/run does after the scenario tests")
	}
}

func console(r *vm.Run) string {
	if r == nil {
		return ""
	}
	return r.Console
}

// BenchmarkBoot boots each kernel with backlog-full and reports QEMU start
// → /init ("boot-ms") and QEMU start → QEMU gone ("run-ms").
func BenchmarkBoot(b *testing.B) {
	if _, err := vm.QEMUPath(); err != nil {
		b.Skip(err)
	}
	bin := filepath.Join(b.TempDir(), "tcplab")
	build := exec.Command("go", "build", "-tags", "container", "-trimpath", "-ldflags=-s -w", "-o", bin, "github.com/tcplab/tcplab/lab/cmd/tcplab")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("%v\n%s", err, out)
	}
	for _, spec := range kernelrun.Specs {
		b.Run(spec.Name, func(b *testing.B) {
			k, err := cachedKernel(spec.Name)
			if errors.Is(err, kernelrun.ErrNotCached) {
				b.Skip(err.Error() + ": run images/kernels.sh")
			}
			if err != nil {
				b.Fatal(err)
			}
			sc, _ := scenarios.Lookup("backlog-full")
			kn, _ := sc.Resolve(scenario.Knobs{"server.somaxconn": "16"})
			rs := []vm.Role{
				{Name: "server", Args: append([]string{"serve", sc.ID}, kn.Args()...), Sysctls: kn.SysctlsFor(scenario.Server), Wait: "ready"},
				{Name: "client", Args: append([]string{"client", sc.ID, "-server", "server"}, kn.Args()...), Sysctls: kn.SysctlsFor(scenario.Client), Wait: "exit"},
			}
			m := &vm.Machine{Kernel: k, Binary: bin}
			var boot, total time.Duration
			for b.Loop() {
				run, err := m.Run(context.Background(), vm.Config{Roles: rs}, 3*time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				boot += run.Boot
				total += run.Total
			}
			b.ReportMetric(float64(boot.Milliseconds())/float64(b.N), "boot-ms")
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "run-ms")
		})
	}
}

// TestKilledLab: a lab process killed outright (SIGKILL, no chance to clean
// up) still takes its QEMU with it (parent-death signal), and CleanStale
// then removes the run's directory.
func TestKilledLab(t *testing.T) {
	if os.Getenv("TCPLAB_VM_HELPER") != "" { // the lab process to be killed
		m := machine(t)
		_, rs := roles(t, "backlog-syn-timeout", scenario.Knobs{"client.tcp_syn_retries": "5"})
		if _, err := m.Run(context.Background(), vm.Config{Roles: rs}, 3*time.Minute); err != nil {
			t.Log(err) // the parent kills this process long before
		}
		return
	}
	machine(t) // skips without QEMU or a kernel
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	helper := exec.Command(os.Args[0], "-test.run", "^TestKilledLab$")
	helper.Env = append(os.Environ(), "TCPLAB_VM_HELPER=1")
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := helper.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { // if the test fails, no QEMU of its own stays behind
		for _, p := range qemuWith(tmp) {
			if pid, err := strconv.Atoi(strings.Split(p, "/")[2]); err == nil {
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Log(err)
				}
			}
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for len(qemuWith(tmp)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the helper never started QEMU")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := helper.Wait(); err == nil {
		t.Fatal("the lab process exited cleanly before it was killed")
	}
	for end := time.Now().Add(5 * time.Second); len(qemuWith(tmp)) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("QEMU outlived the killed lab by 5 s: %v", qemuWith(tmp))
		}
	}
	removed, err := vm.CleanStale()
	if err != nil || len(removed) != 1 {
		t.Errorf("CleanStale after the kill: %v, %v; want the helper's run directory", removed, err)
	}
}

// qemuWith lists the QEMU processes whose command line mentions dir.
func qemuWith(dir string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), "qemu-system") && strings.Contains(string(b), dir) {
			out = append(out, p)
		}
	}
	return out
}

// TestMissingSysctl: a sysctl the kernel lacks (tcp_syn_linear_timeouts on
// 6.1) fails the run with the guest's reason, as Docker refuses it, rather
// than running with a setting silently dropped.
func TestMissingSysctl(t *testing.T) {
	m := machine(t) // 6.1
	_, rs := roles(t, "backlog-full", nil)
	rs[1].Sysctls["net.ipv4.tcp_syn_linear_timeouts"] = "0"
	run, err := m.Run(context.Background(), vm.Config{Roles: rs}, 3*time.Minute)
	if err == nil || !strings.Contains(err.Error(), "sysctl net.ipv4.tcp_syn_linear_timeouts=0") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Run with a sysctl 6.1 lacks: %v; want one line naming it\n%s", err, console(run))
	}
	t.Logf("%v", err)
	if run.Result != nil {
		t.Errorf("a result came back: %s", run.Result)
	}
}
