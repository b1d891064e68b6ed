//go:build !linux

package scenarios

import "net"

func pathOf(c net.Conn) (pathInfo, error) { return pathInfo{}, needsLinux("TCP_INFO") }
