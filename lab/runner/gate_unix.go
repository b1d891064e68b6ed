//go:build unix

package runner

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// WaitGate prints GateLine and returns when SIGUSR1 arrives, or fails
// after gateWait.
func WaitGate() error {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	defer signal.Stop(c)
	fmt.Fprintln(os.Stderr, GateLine)
	select {
	case <-c:
		return nil
	case <-time.After(gateWait):
		return errors.New("no go (SIGUSR1) from the harness within " + gateWait.String())
	}
}
