//go:build !linux

package pcap

import (
	"context"
	"fmt"
	"runtime"
)

// Capture needs Linux's AF_PACKET sockets; it runs in the lab's sidecar,
// never on the host.
func Capture(ctx context.Context, ifname string, port uint16, path string, ready chan<- struct{}) error {
	return fmt.Errorf("tcplab: packet capture (AF_PACKET) needs Linux (runs inside the lab's containers), not %s", runtime.GOOS)
}
