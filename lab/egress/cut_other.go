//go:build !linux

package egress

import (
	"fmt"
	"runtime"
)

// Cut needs Linux's netlink: the agent runs in a Linux namespace.
func Cut() error {
	return fmt.Errorf("egress: cutting routes is not supported on %s", runtime.GOOS)
}
