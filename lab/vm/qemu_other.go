//go:build !linux

package vm

import (
	"fmt"
	"runtime"
	"syscall"
)

// sysProcAttr has no parent-death signal off Linux: QEMU is killed through
// the context (also on Ctrl-C, by the caller's signal context).
func sysProcAttr() *syscall.SysProcAttr { return nil }

// processAlive is not implemented off Linux: CleanStale says so rather
// than remove a directory a live run may still use.
func processAlive(pid int) (bool, error) {
	return false, fmt.Errorf("vm: cleaning stale runs is not implemented on %s", runtime.GOOS)
}
