//go:build !linux

package vm

import "syscall"

// sysProcAttr has no parent-death signal off Linux: QEMU is killed through
// the context (also on Ctrl-C, by the caller's signal context).
func sysProcAttr() *syscall.SysProcAttr { return nil }
