package vm

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"time"
)

// kvmUsable caches ProbeKVM for the process.
var kvmUsable = sync.OnceValue(func() bool {
	q, err := QEMUPath()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return ProbeKVM(ctx, q)
})

// ProbeKVM says whether QEMU can start a KVM guest with the host's CPU
// model here. On nested hypervisors that cannot run stock kernels (this
// project's machines) QEMU aborts at once setting the CPU's MSRs; a VM that
// is still up after two seconds (stopped before its first instruction, -S)
// passes. Without /dev/kvm it is false without starting anything.
func ProbeKVM(ctx context.Context, qemu string) bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, "-accel", "kvm", "-cpu", "host", "-m", "64", "-nodefaults",
		"-display", "none", "-no-reboot", "-net", "none", "-S", "-monitor", "none", "-serial", "none")
	cmd.SysProcAttr = sysProcAttr()
	_ = cmd.Run()           // an abort is the answer, not an error
	return ctx.Err() != nil // killed at the deadline: it was running
}

// accel resolves Machine.Accel: "" or "auto" means KVM where ProbeKVM
// passes, software emulation otherwise.
func (m *Machine) accel() string {
	switch m.Accel {
	case "", "auto":
		if kvmUsable() {
			return "kvm"
		}
		return "tcg"
	}
	return m.Accel
}
