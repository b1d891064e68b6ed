package harness

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill cmd when this process dies, however it
// dies: a tcplab killed with SIGKILL mid-build leaves no go build running
// on into a scratch directory the next clean removes.
func dieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
