//go:build !unix

package runner

import (
	"errors"
	"runtime"
)

// WaitGate needs SIGUSR1, which only Unix has; clients run in Linux
// containers.
func WaitGate() error {
	return errors.New("the client's -gate needs SIGUSR1, which " + runtime.GOOS + " has not")
}
