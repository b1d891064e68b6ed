package kernel

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ListenBacklog asks sock_diag for the listen backlog of the listener on
// port p (idiag_wqueue of a listener is sk_max_ack_backlog, what ss -lnt
// shows as Send-Q): /proc/net/tcp does not have it.
func ListenBacklog(p int) (int64, error) {
	var lastErr error
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		socks, err := netlink.SocketDiagTCP(fam)
		if err != nil {
			lastErr = err
			continue
		}
		for _, s := range socks {
			if s.State == unix.BPF_TCP_LISTEN && int(s.ID.SourcePort) == p {
				return int64(s.WQueue), nil
			}
		}
	}
	if errors.Is(lastErr, unix.EPROTONOSUPPORT) {
		// Measured: qemu-user (linux/arm64 containers emulated on amd64)
		// opens only NETLINK_ROUTE, _KOBJECT_UEVENT and _AUDIT sockets.
		return 0, fmt.Errorf("kernel: sock_diag: %w (qemu-user emulation refuses NETLINK_SOCK_DIAG sockets; so does a kernel without inet_diag)", lastErr)
	}
	if lastErr != nil {
		return 0, fmt.Errorf("kernel: sock_diag: %w", lastErr)
	}
	return 0, fmt.Errorf("kernel: sock_diag shows no listener on port %d", p)
}
