// Package egress makes a lab namespace route-less and proves it. Docker
// gives a container on an internal network a default route via the
// bridge's gateway anyway (isolation is a drop rule on the host), so the
// agent that owns each namespace cuts every route through a gateway at
// start (Cut, Linux only), and the roles check from inside with a route
// lookup that sends nothing (Probe).
package egress

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
)

// None is what Probe says of a namespace with no way out.
const None = "none"

// probes are documentation addresses (RFC 5737, RFC 3849): never assigned,
// so a route to them can only be a default route.
var probes = []string{"192.0.2.1", "198.51.100.1", "2001:db8::1"}

// Probe looks a route up to each documentation address with a UDP
// "connect", which picks a route and a source address and sends nothing.
// It returns None when every lookup fails with ENETUNREACH (for IPv6 also
// EADDRNOTAVAIL: the namespace has no IPv6 at all), and otherwise says what
// it found.
func Probe() string {
	var found []string
	for _, a := range probes {
		c, err := net.Dial("udp", net.JoinHostPort(a, "9"))
		if err == nil {
			found = append(found, fmt.Sprintf("%s via %s", a, c.LocalAddr()))
			c.Close()
			continue
		}
		if !Unreachable(err, strings.Contains(a, ":")) {
			found = append(found, fmt.Sprintf("%s: %v", a, err))
		}
	}
	if len(found) == 0 {
		return None
	}
	return strings.Join(found, "; ")
}

// Unreachable reports whether a route lookup's error means "no route":
// ENETUNREACH, or for IPv6 EADDRNOTAVAIL (no IPv6 address to send from).
func Unreachable(err error, v6 bool) bool {
	return errors.Is(err, syscall.ENETUNREACH) || (v6 && errors.Is(err, syscall.EADDRNOTAVAIL))
}
