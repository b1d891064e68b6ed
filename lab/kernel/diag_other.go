//go:build !linux

package kernel

import (
	"fmt"
	"runtime"
)

// ListenBacklog needs Linux's sock_diag netlink interface.
func ListenBacklog(p int) (int64, error) {
	return 0, fmt.Errorf("tcplab: the listen backlog (sock_diag) needs Linux (runs inside the lab's containers), not %s", runtime.GOOS)
}
