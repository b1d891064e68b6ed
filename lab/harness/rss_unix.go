//go:build unix

package harness

import (
	"runtime"
	"syscall"
)

// HostPeakRSS is this (host) process's peak resident set size in bytes.
func HostPeakRSS() (int64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss), nil // bytes there
	}
	return int64(ru.Maxrss) * 1024, nil // KiB on Linux and the BSDs
}
