package vm

import (
	"errors"
	"syscall"
)

// sysProcAttr kills QEMU when the lab dies, even by SIGKILL: no VM is
// left behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// processAlive says whether pid exists (signal 0; EPERM means it does).
func processAlive(pid int) (bool, error) {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM), nil
}
