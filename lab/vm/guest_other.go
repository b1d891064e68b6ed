//go:build !linux

package vm

import (
	"fmt"
	"os"
	"runtime"
)

// Init is the guest's /init, which exists only in the Linux build.
func Init() {
	fmt.Fprintf(os.Stderr, "tcplab vminit: the VM's /init runs only on Linux, not %s\n", runtime.GOOS)
	os.Exit(2)
}
