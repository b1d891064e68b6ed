//go:build !unix

package harness

import (
	"errors"
	"runtime"
)

// HostPeakRSS is this (host) process's peak resident set size in bytes; it
// is not measured on this OS.
func HostPeakRSS() (int64, error) {
	return 0, errors.New("peak RSS of the host process is not measured on " + runtime.GOOS)
}
