package scenarios

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// listenBacklog opens a TCP listener on ip:port with its own listen(2)
// backlog (the kernel caps it at net.core.somaxconn). net.Listen always
// asks for somaxconn, and somaxconn is per namespace: a proxy and its
// backend in one container would share it, where docker-proxy's frontend
// has the host's deep queue and only the backend's is shallow.
func listenBacklog(ip net.IP, port, backlog int) (net.Listener, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("tcp:%v:%d", ip, port))
	defer f.Close() // FileListener holds its own copy
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return nil, fmt.Errorf("SO_REUSEADDR: %w", err)
	}
	sa := &unix.SockaddrInet4{Port: port}
	if ip != nil {
		copy(sa.Addr[:], ip.To4())
	}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, fmt.Errorf("bind %v:%d: %w", ip, port, err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return net.FileListener(f)
}
