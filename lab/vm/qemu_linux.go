package vm

import "syscall"

// sysProcAttr kills QEMU when the lab dies, even by SIGKILL: no VM is
// left behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
