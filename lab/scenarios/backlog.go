package scenarios

import (
	"fmt"
	"net"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// fill dials serially, each dial bounded by perDial, until one does not
// complete in time or limit dials succeeded. It returns the open
// connections (the caller closes them), the slowest successful dial and the
// error of the dial that did not complete.
func fill(e *scenario.Env, limit int, perDial time.Duration) (conns []net.Conn, slowest time.Duration, blocked error) {
	d := net.Dialer{Timeout: perDial}
	for len(conns) < limit {
		start := time.Now()
		c, err := d.DialContext(e.Ctx, "tcp", e.Addr())
		if err != nil {
			return conns, slowest, err
		}
		slowest = max(slowest, time.Since(start))
		conns = append(conns, c)
	}
	return conns, slowest, fmt.Errorf("all %d dials succeeded", limit)
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}
