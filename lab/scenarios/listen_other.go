//go:build !linux

package scenarios

import (
	"fmt"
	"net"
	"runtime"
)

// listenBacklog needs Linux's listen(2) semantics; servers run in Linux
// containers, so elsewhere it is an error, never a plain net.Listen.
func listenBacklog(ip net.IP, port, backlog int) (net.Listener, error) {
	return nil, fmt.Errorf("listening on %v:%d with backlog %d: not supported on %s (the lab's servers run on Linux)", ip, port, backlog, runtime.GOOS)
}
